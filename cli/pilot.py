"""`tunewise advise --pilot`: the plan's candidates measured inside a budget, predictions rendered and
written into the plan. Orchestration only; the pilot itself is eval/pilot.py."""
from __future__ import annotations

from pathlib import Path

from tunewise.cli.render import console, print_json, progress, stage_reporter, table
from tunewise.core.errors import ConfigError


def pilot_advice(rec, request, budget: str, plan_out: Path | None, force: bool, as_json: bool) -> None:
    """Run the pilot over the plan the advice would write, then show and save what it predicts."""
    from tunewise.advisor.plan import build_plan, write_plan
    from tunewise.eval.pilot import run_pilot
    from tunewise.eval.pilot_records import parse_budget

    seconds = parse_budget(budget)
    if request.data is None or request.eval is None:
        raise ConfigError("--pilot needs --data (training set) and --eval (evaluation set) to measure on")
    plan_path = plan_out if plan_out is not None else Path.cwd() / "pilot-plan.yaml"
    plan = build_plan(rec, request, plan_path)
    with progress() as bar:
        report = stage_reporter(bar)
        result = run_pilot(plan.resolve_paths(plan_path.resolve().parent), seconds, rec.profile.answers, report,
                           reading=request.reading)
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


def render_pilot(result) -> None:
    rows = [[p.approach, p.value, p.low, p.high, p.basis, p.within_limits or "; ".join(p.limit_reasons)]
            for p in result.predictions]
    console.print(table(f"Pilot: predicted {result.metric} at {result.train_examples} labels, best first",
                        ["approach", "predicted", "95% low", "95% high", "basis", "within limits"], rows))
    points = [[p.approach, p.rung, p.labels, p.steps, p.value, p.seconds] for p in result.points]
    console.print(table(f"Pilot points (sample of {result.sample_size} eval examples)",
                        ["approach", "rung", "labels", "steps", "value", "seconds"], points))
    console.print(f"[bold]Pilot recommendation: {result.recommendation or 'none'}[/bold]", highlight=False)
    for line in result.statements + result.crossings + [f"{k} stopped early: {v}." for k, v in result.dropped.items()] \
            + [f"skipped {s}." for s in result.skipped]:
        console.print(f"  - {line}", highlight=False)
    console.print(f"[dim]The pilot took {result.seconds:.0f}s of its {result.budget_seconds:.0f}s budget, peak "
                  f"{result.peak_memory_mb:.0f} MB.[/dim]", highlight=False)
