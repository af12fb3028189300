"""`tunewise compare PLAN.yaml --out DIR`: every approach of a plan on one eval set, with a report."""
from __future__ import annotations

from pathlib import Path

import click

from tunewise.cli.options import force_option, json_option, reading_policy, writing
from tunewise.cli.compare_view import comparison_tables
from tunewise.cli.progress import CompareProgress
from tunewise.cli.render import console, print_json, progress
from tunewise.core.defaults import MAX_NEW_TOKENS


@click.command()
@click.argument("plan", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for results, predictions and report.")
@click.option("--only", default=None, help="Comma-separated approaches of the plan to run (default: all).")
@click.option("--max-new-tokens", default=MAX_NEW_TOKENS, show_default=True, type=click.IntRange(1, 4096),
              help="Greedy decoding length, the same for every approach.")
@force_option
@json_option
@reading_policy
def compare(plan: Path, overrides: tuple[str, ...], out: Path, only: str | None, max_new_tokens: int, force: bool,
            as_json: bool, reading) -> None:
    """Build, run and evaluate every approach of PLAN on the same eval examples. A rerun into the same
    --out reuses the approaches already finished there (interrupted or not); --force redoes them all.
    KEY=VALUE pairs override plan keys, e.g. tuning.max_steps=40 limit_eval=20."""
    from tunewise.eval.report import view
    from tunewise.eval.runner import run_compare

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    with progress() as bar:
        with writing(out, "compare"):
            results = run_compare(plan, out, force=force, only=names, max_new_tokens=max_new_tokens,
                                  progress=CompareProgress(bar, *planned_phases(plan, names, overrides, reading)),
                                  overrides=overrides, reading=reading)
    if as_json:
        print_json(results.model_dump(mode="json"))
        return
    for part in comparison_tables(view(results)):
        console.print(part)
    for name, reason in results.failed.items():
        console.print(f"[red]failed:[/red] {name}: {reason}", highlight=False)
    console.print(f"Recommendation: {results.recommendation}  (measured winner: {results.winner})")
    if results.verdict:
        console.print(f"Verdict: {results.verdict['sentence']}", highlight=False)
    console.print(f"Report: {out / 'report.html'}  (also report.md, results.json, predictions/)")


def planned_phases(plan: Path, only: list[str] | None, overrides: tuple[str, ...], reading):
    """The approaches compare will run, in order, and each phase's estimated seconds (None when unknown).

    A plan that does not load gives nothing here: run_compare then stops on it with the one-line error.
    """
    from tunewise.advisor.eta import phase_seconds, plan_sizes
    from tunewise.core.device import gpu_inventory
    from tunewise.core.errors import TunewiseError
    from tunewise.eval.runner import approach_names, load_plan

    try:
        loaded = load_plan(plan, overrides)
        names = approach_names(loaded, only)
        gpus = gpu_inventory()
        return names, phase_seconds(loaded, names, plan_sizes(loaded, reading), gpus[0].memory_gb if gpus else 0.0)
    except TunewiseError:
        return [], None
