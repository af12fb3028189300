"""`tunewise advise --pilot`: the plan's candidates measured inside a budget, predictions rendered and
written into the plan. Orchestration only; the pilot itself is eval/pilot.py
(with eval/pilot_sample.py, pilot_train.py, pilot_predict.py)."""
from __future__ import annotations

from pathlib import Path

from tunewise.cli.render import console, print_json, progress, stage_reporter, table
from tunewise.core.errors import ConfigError


def pilot_advice(rec, request, budget: str, plan_out: Path | None, force: bool, as_json: bool,
                 max_new_tokens: int) -> None:
    """Run the pilot over the plan the advice would write, then show and save what it predicts."""
    from tunewise.advisor.plan import build_plan, write_plan
    from tunewise.eval.pilot import run_pilot
    from tunewise.eval.pilot_records import parse_budget

    seconds = parse_budget(budget)
    if request.data is None:
        raise ConfigError("--pilot needs --data (training set) to measure on")
    plan_path = plan_out if plan_out is not None else Path.cwd() / "pilot-plan.yaml"
    source = "eval set"
    if request.eval is None:     # hold out a slice of train; the plan points compare at the same split
        request, source = held_out(rec, request, plan_path if plan_out is not None else None)
    plan = build_plan(rec, request, plan_path)
    with progress() as bar:
        report = stage_reporter(bar)
        result = run_pilot(plan.resolve_paths(plan_path.resolve().parent), seconds, rec.profile.answers, report,
                           eval_source=source, reading=request.reading, max_new_tokens=max_new_tokens)
    if result.recommendation is not None:
        reasons = [f"pilot: {s}" for s in result.statements + result.crossings]
        plan = plan.model_copy(update={"recommendation": result.recommendation, "reasons": reasons + plan.reasons,
                                       "predictions": [p.as_plan_prediction() for p in result.predictions]})
        rec = rec.model_copy(update={"recommendation": result.recommendation})
    if plan_out is not None:
        write_plan(plan, plan_out, force)
    if as_json:
        print_json({**rec.model_dump(mode="json"), "pilot": result.model_dump(mode="json")})
        return
    render_pilot(result)
    if plan_out is not None:
        console.print(f"Plan written to {plan_out} (with the pilot's predictions)")


def held_out(rec, request, plan_path: Path | None):
    """The request with a held-out slice of train as its eval set, written beside the plan (or in the app
    home when no plan is written), and the words that say so."""
    import tempfile
    from dataclasses import replace

    from tunewise.advisor.rules import PLAN_TASK
    from tunewise.core.files import app_home
    from tunewise.eval.pilot_sample import write_holdout

    folder = plan_path.resolve().parent if plan_path is not None else Path(tempfile.mkdtemp(dir=app_home()))
    stem = plan_path.stem if plan_path is not None else "pilot"
    rest, held, count = write_holdout(request.data, folder, PLAN_TASK[rec.profile.answers.task], seed=0, stem=stem)
    return replace(request, data=rest, eval=held), f"held-out slice of train ({count} examples, in {held.name})"


def pilot_estimate(rec, request, budget_s: float) -> float:
    """About how long the pilot of this advice will take, from the advisor's own estimates of the plan's
    approaches (the pilot plans for a share of the full compare; eval/pilot_plan.py)."""
    from tunewise.advisor.plan import plan_approaches
    from tunewise.core.schema import ApiModel
    from tunewise.eval import pilot_plan

    data = rec.profile.data
    classes = len(data.label_counts or {}) if rec.profile.answers.task == "classification" else 0
    eval_size = data.eval_examples if request.eval is not None and data.eval_examples else \
        max(1, round(data.examples * pilot_plan.HOLDOUT_FRACTION))
    names, _ = plan_approaches(rec, request.corpus is not None, isinstance(request.model, ApiModel))
    estimates = {r.approach: r.estimates for r in rec.ranking}
    answer_s, trainables = [], []
    for name in names:
        est = estimates.get(name, {})
        answer_s.append(est.get("latency_ms_per_query", pilot_plan.EXAMPLE_SECONDS * 1000) / 1000)
        if est.get("train_hours"):
            trainables.append((1, est["train_hours"] * 3600, pilot_plan.LOAD_SECONDS))
    compare_s = pilot_plan.compare_seconds(eval_size, answer_s, trainables, pilot_plan.LOAD_SECONDS)
    minimum = pilot_plan.minimum_seconds(pilot_plan.minimum_sample(classes, eval_size))
    return pilot_plan.expected_seconds(budget_s, compare_s, minimum)


def render_pilot(result) -> None:
    rows = [[p.approach, p.value, p.low, p.high, p.basis, p.within_limits or "; ".join(p.limit_reasons)]
            for p in result.predictions]
    console.print(table(f"Pilot: predicted {result.metric} at {result.train_examples} labels, best first",
                        ["approach", "predicted", "95% low", "95% high", "basis", "within limits"], rows))
    points = [[p.approach, p.rung, p.labels, p.steps, p.batch, p.value, p.seconds] for p in result.points]
    console.print(table(f"Pilot points (sample of {result.sample_size} examples of the {result.eval_source})",
                        ["approach", "rung", "labels", "steps", "batch", "value", "seconds"], points))
    console.print(f"[bold]Pilot recommendation: {result.recommendation or 'none'}[/bold]", highlight=False)
    for line in result.statements + result.crossings + [f"{k} stopped early: {v}." for k, v in result.dropped.items()] \
            + [f"skipped {s}." for s in result.skipped]:
        console.print(f"  - {line}", highlight=False)
    console.print(f"[dim]The pilot took {result.seconds:.0f}s of its {result.budget_seconds:.0f}s budget (planned "
                  f"{result.planned_seconds or result.budget_seconds:.0f}s), peak "
                  f"{result.peak_memory_mb:.0f} MB.[/dim]", highlight=False)
