"""results.json, report.md and a self-contained report.html (plots inlined as base64 PNG) from the
finished approaches of a comparison. `assemble_results` makes the validated `Comparison`; the renderers
read its JSON form (what results.json holds), apart from matplotlib for the plots.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import os
import platform
import re
from pathlib import Path
from typing import Any

from tunewise.core.files import atomic_write_text
from tunewise.core.results import ApproachResult, Comparison
from tunewise.core.schema import Plan
from tunewise.core.units import duration, megabytes, number
from tunewise.eval.evidence import evidence_sections
from tunewise.eval.metrics import LOWER_IS_BETTER, METRIC_KEYS, PRIMARY
from tunewise.eval.report_sections import extra_sections

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
    for key, what, show in (("latency_ms_p50", "median latency", lambda ms: duration(ms / 1000)),
                            ("train_seconds", "training time", duration), ("storage_mb", "storage", megabytes)):
        wv, av = w["costs"].get(key), a["costs"].get(key)
        if wv is not None and av is not None and wv != av:
            reasons.append(f"{what}: {winner} {show(wv)} vs {advised} {show(av)}.")
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
        return number(value)
    return str(value)


# -- plots ------------------------------------------------------------------------------------------

def plots(results: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes by name: quality vs cost, training loss curves, per-class F1 (where they apply)."""
    from tunewise.eval.plots import report_plots

    images = report_plots(results)
    if results.get("routing"):
        from tunewise.eval.route_report import FRONTIER_PLOT, frontier_plot
        from tunewise.eval.router import RouterFile

        images[FRONTIER_PLOT] = frontier_plot(RouterFile.model_validate(results["routing"]))
    return images


# -- documents --------------------------------------------------------------------------------------

def sections(results: dict[str, Any]) -> list[tuple[str, str | None, tuple[list[str], list[list[Any]]] | None]]:
    """(heading, paragraph, table) triples shared by the markdown and HTML reports."""
    from tunewise.eval import narrative

    if not results["approaches"]:
        return [("Comparison", narrative.NO_RESULTS, None)]
    adv = results["advisor"]["recommendation"]
    verdict = (f"**Verdict:** {narrative.verdict(results)}\n\nMeasured winner: **{results['winner']}** (marked *). "
               f"Advisor's recommendation: **{adv or 'none given'}**.")
    out = [("Comparison", f"Task `{results['task']}`, model `{results['model']}`; every approach answered the "
                          "same eval examples with greedy decoding.\n\n" + verdict, comparison_rows(results))]
    reasons = results["advisor"]["reasons"]
    text = " ".join(results["disagreement"]) or ("The measured winner is the advisor's pick." if adv else
                                                  "The plan gave no advisor recommendation.")
    if reasons:
        text += " Advisor's reasons: " + " ".join(r if r.endswith(".") else r + "." for r in reasons)
    out.append(("Recommendation vs measurement", text, None))
    out.append(("Costs", narrative.costs_text(results), None))
    out += evidence_sections(results)
    if forgetting_rows(results)[1]:
        out.append(("Catastrophic forgetting", narrative.forgetting_text(results), forgetting_rows(results)))
    if drift_rows(results)[1]:
        out.append(("Knowledge drift", narrative.drift_text(results), drift_rows(results)))
    out += extra_sections(results)
    if results.get("routing"):
        from tunewise.eval.route_report import routing_section

        out.append(routing_section(results["routing"]))
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
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,td.text{text-align:left}"
             ".wide{overflow-x:auto}img{max-width:100%;height:auto}"
             "</style></head><body><h1>Tunewise comparison</h1>"]
    for heading, text, table in sections(results):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if text:
            parts += [f"<p>{_bold(html.escape(paragraph))}</p>" for paragraph in text.split("\n\n")]
        if table:
            header, rows = table
            parts.append("<div class='wide'><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                         + "</tr>")
            parts += ["<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows]
            parts.append("</table></div>")
    parts.append("<h2>Plots</h2>" if images else "")
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<p><img alt='{name}' src='data:image/png;base64,{data}'></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _bold(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


def _cell(value: Any) -> str:
    """Numbers right-aligned (the CSS default), free text left-aligned."""
    text = html.escape(fmt(value))
    return f"<td class='text'>{text}</td>" if isinstance(value, str) and " " in value else f"<td>{text}</td>"


def view(results: Comparison | dict[str, Any]) -> dict[str, Any]:
    """The JSON form the renderers read (exactly what results.json holds)."""
    return results.model_dump(mode="json") if isinstance(results, Comparison) else results


def write_report(out: Path, comparison: Comparison) -> None:
    """Plots, report.md, report.html, and results.json last: its presence marks the folder finished."""
    from tunewise.eval.intervals import primary_intervals
    from tunewise.eval.route_report import router_of_run

    out = Path(out)
    results = view(comparison)
    # for the verdict only: results.json keeps the record's fields, the intervals are recomputable
    results["intervals"] = primary_intervals(out, results)
    # for the routing section: the router trained from this run, kept beside it (routing/router.json)
    router = router_of_run(out, results["approaches"])
    results["routing"] = router.model_dump(mode="json") if router is not None else None
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
