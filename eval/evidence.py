"""What a comparison adds to the evidence: ledger rows for each measured approach, the verdict with
confidence, the plan's predictions beside the measurements, and the advisor's pick vs the winner.

Called from three hooks: the end of `runner.run_approach`, the end of `runner.run_compare`, and
`report.sections` (the report's verdict and predicted-vs-measured sections).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tunewise.core import registry
from tunewise.core.ledger import AdvisorPick, Ledger, MeasuredRun, token_stats
from tunewise.core.results import ApproachResult, Comparison
from tunewise.core.schema import Plan
from tunewise.eval.metrics import PRIMARY

TUNED_SETTINGS = ("max_steps", "epochs", "batch_size", "lr", "max_seq_len")


def model_name(plan: Plan) -> str:
    return plan.model if isinstance(plan.model, str) else plan.model.model


def measured_run(plan: Plan, train, name: str, result: ApproachResult, device: str | None,
                 source: str | None = None) -> MeasuredRun:
    """One approach's measurement as a ledger row."""
    mean, total = token_stats([e.prompt + " " + e.response for e in train.examples])
    primary = PRIMARY[plan.task]
    costs = result.costs
    tuned = registry.spec(registry.split_api(name)[0]).tuned
    tuning = {k: v for k, v in plan.tuning.for_approach(name).items() if k in TUNED_SETTINGS} if tuned else {}
    return MeasuredRun(kind="compare", approach=name, task=plan.task, examples=len(train), mean_tokens=mean,
                       total_tokens=total, model=model_name(plan), settings={**tuning, "eval_examples": result.examples},
                       metric=primary, metric_value=result.metrics.get(primary),
                       train_seconds=costs.get("train_seconds"), peak_memory_mb=costs.get("peak_memory_mb"),
                       latency_ms_p50=costs.get("latency_ms_p50"), device=device, source=source)


def record_measured(ws, name: str, result: ApproachResult) -> None:
    """Hook at the end of `run_approach`: the approach's measurement goes into the ledger."""
    device = getattr(ws.device, "device", None)
    Ledger().append_runs([measured_run(ws.plan, ws.train, name, result, device, source=str(ws.out.resolve()))])


def judge_comparison(out: Path, plan: Plan, comparison: Comparison) -> Comparison:
    """Hook at the end of `run_compare`: the verdict decides the winner; predictions meet measurements;
    the advisor's pick is recorded beside the winner."""
    from tunewise.eval.report import disagreement
    from tunewise.eval.stats import verdict_of_folder

    results = comparison.model_dump(mode="json")
    names = list(results["approaches"])
    found = verdict_of_folder(out, plan.task, names, seed=plan.seed)
    results["verdict"] = found.model_dump(mode="json")
    results["winner"] = found.winner
    advised = plan.recommendation if plan.recommendation in results["approaches"] else None
    results["recommendation"] = advised or found.winner
    results["disagreement"] = disagreement(results["approaches"], results["primary_metric"], found.winner, advised)
    if advised is not None and advised != found.winner and advised in found.ties + [found.best]:
        results["disagreement"].append(f"The advised {advised} cannot be told apart from the winner at 95%.")
    results["predicted_vs_measured"] = predicted_vs_measured(plan, results)
    if plan.recommendation is not None:
        matched = plan.recommendation == found.winner or plan.recommendation in found.ties + [found.best]
        Ledger().append_pick(AdvisorPick(advised=plan.recommendation, winner=found.winner,
                                         with_pilot=plan.predictions is not None, matched=matched,
                                         task=plan.task, source=str(Path(out).resolve())))
    return Comparison.model_validate(results)


def predicted_vs_measured(plan: Plan, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each prediction in the plan beside the measured value of the same metric."""
    rows = []
    for p in plan.predictions or ():
        measured = results["approaches"].get(p.approach, {}).get("metrics", {}).get(p.metric)
        if measured is None:
            continue
        rows.append({"approach": p.approach, "metric": p.metric, "predicted": p.value, "low": p.low, "high": p.high,
                     "measured": round(measured, 4), "error": round(measured - p.value, 4),
                     "inside_interval": p.low <= measured <= p.high, "basis": p.basis})
    return rows


def evidence_sections(results: dict[str, Any]) -> list[tuple[str, str | None, tuple | None]]:
    """The report's verdict section and, where the plan carried predictions, predicted vs measured."""
    found = results.get("verdict")
    if not found:
        return []
    header = ["approach", found["metric"], "difference from best", "95% CI low", "95% CI high", "McNemar p", "tie"]
    rows = [[d["approach"], d["value"], d["difference"], d["ci_low"], d["ci_high"], d["mcnemar_p"],
             "yes" if d["tie"] else "no"] for d in found["differences"]]
    out = [("Verdict with confidence", f"{found['sentence']} Paired bootstrap over the {found['examples']} eval "
            "examples (seeded); McNemar's exact test on accuracy for classification.", (header, rows))]
    pairs = results.get("predicted_vs_measured") or []
    if pairs:
        within = sum(abs(p["error"]) <= 0.05 for p in pairs)
        text = (f"The plan's pilot predictions against this comparison: {within} of {len(pairs)} within 0.05, "
                f"{sum(p['inside_interval'] for p in pairs)} inside their 95% interval.")
        table = (["approach", "metric", "predicted", "low", "high", "measured", "error", "basis"],
                 [[p["approach"], p["metric"], p["predicted"], p["low"], p["high"], p["measured"], p["error"],
                   p["basis"]] for p in pairs])
        out.append(("Predicted vs measured", text, table))
    return out
