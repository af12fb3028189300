"""results.json, report.md and a self-contained report.html (plots inlined as base64 PNG) from the
finished approaches of a comparison. `assemble_results` makes the validated `Comparison`; the renderers
read its JSON form (what results.json holds), apart from matplotlib for the plots.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
import platform
from pathlib import Path
from typing import Any

from tunewise.core.files import atomic_write_text
from tunewise.core.results import ApproachResult, Comparison
from tunewise.core.schema import Plan
from tunewise.eval.metrics import LOWER_IS_BETTER, METRIC_KEYS, PRIMARY

COST_KEYS = ("train_seconds", "peak_memory_mb", "latency_ms_p50", "latency_ms_p95", "prompt_tokens", "storage_mb",
             "train_usd", "usd_per_1k_queries")
LABELS = {
    "accuracy": "accuracy", "f1_macro": "macro F1", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rouge_l": "ROUGE-L",
    "bleu": "BLEU", "exact_match": "exact match", "token_f1": "token F1", "perplexity": "perplexity",
    "hit_rate": "hit rate", "mrr": "MRR", "train_seconds": "train s", "peak_memory_mb": "peak MB",
    "latency_ms_p50": "p50 ms", "latency_ms_p95": "p95 ms", "prompt_tokens": "prompt tok",
    "storage_mb": "storage MB", "train_usd": "train $", "usd_per_1k_queries": "$ / 1k queries",
}


def assemble_results(plan: Plan, finished: dict[str, ApproachResult | dict]) -> Comparison:
    """The results.json record: every approach, the measured winner, and the advisor's recommendation."""
    primary = PRIMARY[plan.task]
    approaches = {n: ApproachResult.model_validate(r).model_dump(mode="json") for n, r in finished.items()}
    winner = pick_winner(approaches, primary)
    advised = plan.recommendation if plan.recommendation in approaches else None
    return Comparison.model_validate({
        "task": plan.task,
        "model": plan.model if isinstance(plan.model, str) else plan.model.model,
        "primary_metric": primary,
        "approaches": approaches,
        "winner": winner,
        "recommendation": advised or winner,
        "advisor": {"recommendation": plan.recommendation, "reasons": plan.reasons},
        "disagreement": disagreement(approaches, primary, winner, advised),
        "machine": machine(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    })


def pick_winner(approaches: dict[str, dict], primary: str) -> str:
    """Best on the task's primary metric; ties go to the lower median latency."""
    def key(name: str):
        value = approaches[name]["metrics"].get(primary, float("nan"))
        score = -value if primary in LOWER_IS_BETTER else value
        return (score, -approaches[name]["costs"]["latency_ms_p50"])

    return max(approaches, key=key)


def disagreement(approaches: dict[str, dict], primary: str, winner: str, advised: str | None) -> list[str]:
    """Why the measured winner is not the advisor's pick, in numbers (empty when they agree)."""
    if advised is None or advised == winner:
        return []
    a, w = approaches[advised], approaches[winner]
    label = LABELS[primary]
    reasons = [f"{winner} scored {label} {w['metrics'][primary]:.3f} against {a['metrics'][primary]:.3f} "
               f"for the advised {advised} on the same {w['examples']} examples."]
    for key, what in (("latency_ms_p50", "median latency"), ("train_seconds", "training time"),
                      ("storage_mb", "storage")):
        wv, av = w["costs"].get(key), a["costs"].get(key)
        if wv is not None and av is not None and wv != av:
            reasons.append(f"{what}: {winner} {wv:g} vs {advised} {av:g}.")
    if abs(w["metrics"][primary] - a["metrics"][primary]) < 0.02:
        reasons.append("The gap is within noise for this eval set size; the advisor's cheaper pick is defensible.")
    return reasons


def machine() -> dict[str, Any]:
    from tunewise.core.device import gpu_inventory

    gpus = gpu_inventory()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "gpu": gpus[0].name if gpus else None}


def columns(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The metric and cost keys present in any approach, in a fixed order."""
    found = [r for r in results["approaches"].values()]
    metric_keys = [k for k in METRIC_KEYS if any(k in r["metrics"] for r in found)]
    cost_keys = [k for k in COST_KEYS if any(k in r["costs"] for r in found)]
    return metric_keys, cost_keys


def comparison_rows(results: Comparison | dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the comparison table (terminal, markdown and HTML all use this)."""
    results = view(results)
    metric_keys, cost_keys = columns(results)
    header = ["approach"] + [LABELS[k] for k in metric_keys + cost_keys]
    rows = []
    for name, record in results["approaches"].items():
        mark = " *" if name == results["winner"] else ""
        rows.append([name + mark] + [record["metrics"].get(k) for k in metric_keys]
                    + [record["costs"].get(k) for k in cost_keys])
    return header, rows


def forgetting_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["approach", "probe accuracy before", "after", "probe perplexity before", "after"]
    rows = [[name, f["probe_accuracy_before"], f["probe_accuracy_after"], f["probe_perplexity_before"],
             f["probe_perplexity_after"]]
            for name, r in results["approaches"].items() if (f := r.get("forgetting"))]
    return header, rows


def drift_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    primary = results["primary_metric"]
    header = ["approach", f"{LABELS[primary]} on changed facts", "catch-up seconds", "how it catches up"]
    rows = [[name, d["metrics"].get(primary), d["catch_up"]["seconds"], d["catch_up"]["how"]]
            for name, r in results["approaches"].items() if (d := r.get("drift"))]
    return header, rows


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


# -- plots ------------------------------------------------------------------------------------------

def plots(results: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes by name: quality vs cost, training loss curves, per-class F1 (where they apply)."""
    import matplotlib

    matplotlib.use("Agg")
    out = {"quality_vs_cost": _quality_vs_cost(results)}
    if any(r.get("losses") for r in results["approaches"].values()):
        out["loss_curves"] = _loss_curves(results)
    if any(r.get("per_class_f1") for r in results["approaches"].values()):
        out["per_class_f1"] = _per_class(results)
    return out


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _quality_vs_cost(results: dict[str, Any]) -> bytes:
    import matplotlib.pyplot as plt

    primary = results["primary_metric"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in results["approaches"].items():
        x, y = r["costs"]["latency_ms_p50"], r["metrics"].get(primary)
        if y is not None:
            ax.scatter(x, y, s=40 + (r["costs"].get("train_seconds") or 0) / 2, alpha=0.7)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("median latency per example (ms)")
    ax.set_ylabel(LABELS[primary])
    ax.set_title("Quality vs cost (marker size: training time)")
    return _png(fig)


def _loss_curves(results: dict[str, Any]) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in results["approaches"].items():
        if r.get("losses"):
            steps, losses = zip(*r["losses"])
            ax.plot(steps, losses, marker="o", markersize=3, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("Training loss")
    ax.legend(fontsize=8)
    return _png(fig)


def _per_class(results: dict[str, Any]) -> bytes:
    import matplotlib.pyplot as plt
    import numpy as np

    named = {n: r["per_class_f1"] for n, r in results["approaches"].items() if r.get("per_class_f1")}
    labels = sorted({label for scores in named.values() for label in scores})
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(named)
    for i, (name, scores) in enumerate(named.items()):
        ax.bar(np.arange(len(labels)) + i * width, [scores.get(l, 0.0) for l in labels], width, label=name)
    ax.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, rotation=20, fontsize=8)
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1)
    ax.set_title("Per-class F1")
    ax.legend(fontsize=7)
    return _png(fig)


# -- documents --------------------------------------------------------------------------------------

def sections(results: dict[str, Any]) -> list[tuple[str, str | None, tuple[list[str], list[list[Any]]] | None]]:
    """(heading, paragraph, table) triples shared by the markdown and HTML reports."""
    adv = results["advisor"]["recommendation"]
    verdict = (f"Measured winner on {LABELS[results['primary_metric']]}: **{results['winner']}** (marked *). "
               f"Advisor's recommendation: **{adv or 'none given'}**.")
    out = [("Comparison", f"Task `{results['task']}`, model `{results['model']}`; every approach answered the "
                          "same eval examples with greedy decoding. " + verdict, comparison_rows(results))]
    reasons = results["advisor"]["reasons"]
    text = " ".join(results["disagreement"]) or ("The measured winner is the advisor's pick." if adv else
                                                  "The plan gave no advisor recommendation.")
    if reasons:
        text += " Advisor's reasons: " + " ".join(r if r.endswith(".") else r + "." for r in reasons)
    out.append(("Recommendation vs measurement", text, None))
    if forgetting_rows(results)[1]:
        out.append(("Catastrophic forgetting", "The shipped general-knowledge probe set (eval/probes), scored "
                    "on the base model and on each fine-tuned model.", forgetting_rows(results)))
    if drift_rows(results)[1]:
        out.append(("Knowledge drift", "After the corpus changed: RAG re-indexed incrementally, fine-tuned "
                    "models not retrained; scored on questions about the changed facts.", drift_rows(results)))
    notes = [f"{n}: {note}." for n, r in results["approaches"].items() for note in r.get("notes", [])]
    out.append(("Notes", " ".join([f"Measured on {_machine_line(results)}.", *notes,
                                   "Every metric is recomputable from predictions/*.jsonl with scikit-learn, "
                                   "rouge-score and sacrebleu."]), None))
    return out


def _machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    return f"{m['platform']}, {m['cpus']} CPUs, GPU {m['gpu'] or 'none'}, {results['date']}"


def markdown(results: dict[str, Any], plot_files: list[str]) -> str:
    lines = ["# Tunewise comparison", ""]
    for heading, text, table in sections(results):
        lines += [f"## {heading}", ""]
        if text:
            lines += [text, ""]
        if table:
            header, rows = table
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
            lines.append("")
    if plot_files:
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plot_files] + [""]
    return "\n".join(lines)


def html_report(results: dict[str, Any], images: dict[str, bytes]) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Tunewise comparison</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
             "</style></head><body><h1>Tunewise comparison</h1>"]
    for heading, text, table in sections(results):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if text:
            body = html.escape(text).replace("**", "")
            parts.append(f"<p>{body}</p>")
        if table:
            header, rows = table
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>" for row in rows]
            parts.append("</table>")
    parts.append("<h2>Plots</h2>")
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<p><img alt='{name}' src='data:image/png;base64,{data}'></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def view(results: Comparison | dict[str, Any]) -> dict[str, Any]:
    """The JSON form the renderers read (exactly what results.json holds)."""
    return results.model_dump(mode="json") if isinstance(results, Comparison) else results


def write_report(out: Path, comparison: Comparison) -> None:
    """Plots, report.md, report.html, and results.json last: its presence marks the folder finished."""
    out = Path(out)
    results = view(comparison)
    images = plots(results)
    files = []
    for name, png in images.items():
        path = out / "plots" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        files.append(f"plots/{name}.png")
    atomic_write_text(out / "report.md", markdown(results, files))
    atomic_write_text(out / "report.html", html_report(results, images))
    comparison.save(out / "results.json")
