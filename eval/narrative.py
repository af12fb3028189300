"""The report's sentences: the verdict (what won, by how much, how sure), what forgetting and drift
mean, and the costs in money when the plan has prices, in time and memory otherwise. Pure over the
results dict; every number is rounded and carries its unit."""
from __future__ import annotations

from typing import Any

from tunewise.core.units import duration, megabytes, number, usd
from tunewise.eval.intervals import SMALL_EVAL
from tunewise.eval.metrics import LOWER_IS_BETTER

SCALES = {"bleu": "0 to 100, higher is better", "perplexity": "lower is better"}
NO_RESULTS = "No approach finished in this comparison, so there is nothing to report."


def scale(metric: str) -> str:
    return SCALES.get(metric, "0 to 1, higher is better")


def ranked(results: dict[str, Any]) -> list[str]:
    """Approaches with the primary metric, best first (the measured winner first on a tie)."""
    primary = results["primary_metric"]
    scored = [n for n, r in results["approaches"].items() if primary in r["metrics"]]
    sign = 1 if primary in LOWER_IS_BETTER else -1
    return sorted(scored, key=lambda n: (sign * results["approaches"][n]["metrics"][primary], n != results["winner"]))


def with_interval(results: dict[str, Any], name: str) -> str:
    value = number(results["approaches"][name]["metrics"][results["primary_metric"]])
    interval = results.get("intervals", {}).get(name)
    if interval is None:
        return value
    return f"{value} ({interval['confidence']:.0%} interval {number(interval['low'])} to {number(interval['high'])})"


def verdict(results: dict[str, Any]) -> str:
    """What won, by how much, with each side's interval, and a caveat when the eval set is small."""
    from tunewise.eval.report import LABELS

    order = ranked(results)
    if not order:
        return NO_RESULTS
    primary = results["primary_metric"]
    label = f"{LABELS[primary]} ({scale(primary)})"
    best = order[0]
    n = results["approaches"][best]["examples"]
    if len(order) == 1:
        return f"Only {best} ran: {label} {with_interval(results, best)} on {n} examples; nothing to compare it with."
    second = order[1]
    gap = abs(results["approaches"][best]["metrics"][primary] - results["approaches"][second]["metrics"][primary])
    text = (f"{best} won on {label}: {with_interval(results, best)} against {with_interval(results, second)} for "
            f"{second}, the runner-up, a lead of {number(gap)} on the same {n} examples.")
    if gap == 0:
        text = (f"{best} and {second} tied on {label} at {with_interval(results, best)} over {n} examples; the "
                "tie goes to the lower median latency.")
    return " ".join([text, *caveats(results, best, second, n)])


def caveats(results: dict[str, Any], best: str, second: str, n: int) -> list[str]:
    intervals = results.get("intervals", {})
    a, b = intervals.get(best), intervals.get(second)
    overlap = a is not None and b is not None and a["low"] <= b["high"] and b["low"] <= a["high"]
    out = []
    if n < SMALL_EVAL:
        out.append(f"Caveat: {n} eval examples is a small set (under {SMALL_EVAL})"
                   + (", and the two intervals overlap, so this order may well not hold on new data." if overlap
                      else "; more examples would narrow the intervals."))
    elif overlap:
        out.append("The two intervals overlap, so the lead may not hold on new data.")
    if a is not None:
        out.append(f"Intervals: {a['method']}, each approach on its own (not paired).")
    return out


def forgetting_text(results: dict[str, Any]) -> str:
    """One sentence on what the numbers mean, then each tuned approach's change."""
    from tunewise.eval.checks import PROBES

    probes = sum(1 for line in PROBES.read_text(encoding="utf-8").splitlines() if line.strip())
    changes = [f"{name} {number(f['probe_accuracy_before'])} before, {number(f['probe_accuracy_after'])} after "
               f"({_signed(f['probe_accuracy_after'] - f['probe_accuracy_before'])})"
               for name, r in results["approaches"].items() if (f := r.get("forgetting"))]
    return (f"Forgetting is what fine-tuning cost the model's general knowledge: the share of {probes} "
            "general-knowledge probe questions (eval/probes) it answers right before and after tuning, so a "
            "drop means knowledge lost (a higher probe perplexity after tuning means ordinary answers became "
            "less likely). " + "; ".join(changes) + ".")


def drift_text(results: dict[str, Any]) -> str:
    from tunewise.eval.report import LABELS

    primary = results["primary_metric"]
    parts = [f"{name} {number(d['metrics'][primary])} (catching up: {duration(d['catch_up']['seconds'])})"
             for name, r in results["approaches"].items()
             if (d := r.get("drift")) and primary in d["metrics"]]
    return ("Knowledge drift is how each approach copes when the documents change: after the corpus was "
            "updated, retrieval re-indexed only the changed documents while fine-tuned weights stayed as "
            f"trained, and both answered questions about the changed facts. {LABELS[primary]} on those: "
            + "; ".join(parts) + ".")


def costs_text(results: dict[str, Any]) -> str:
    """Money where the plan gave prices, otherwise time and memory, per approach."""
    priced = any({"train_usd", "usd_per_1k_queries"} & set(r["costs"]) for r in results["approaches"].values())
    lead = ("Money from the plan's prices; time and memory as measured." if priced else
            "The plan gives no prices (prices.cpu_hour_usd, gpu_hour_usd, input_token_usd_per_1m), so costs "
            "are in time and memory.")
    return " ".join([lead, *(f"{name}: {cost_phrase(r['costs'])}." for name, r in results["approaches"].items())])


def cost_phrase(costs: dict[str, Any]) -> str:
    parts = [f"{duration(costs['train_seconds'])} to build" if costs.get("train_seconds") else "nothing to build",
             f"{megabytes(costs['peak_memory_mb'])} peak memory",
             f"{duration(costs['latency_ms_p50'] / 1000)} per answer (median)"]
    if costs.get("storage_mb"):
        parts.append(f"{megabytes(costs['storage_mb'])} on disk")
    if costs.get("train_usd") is not None:
        parts.append(f"{usd(costs['train_usd'])} to train")
    if costs.get("usd_per_1k_queries") is not None:
        parts.append(f"{usd(costs['usd_per_1k_queries'])} per 1,000 answers")
    return ", ".join(parts)


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + number(value) if value else "no change"
