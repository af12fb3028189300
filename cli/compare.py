"""`tunewise compare PLAN.yaml --out DIR`: every approach of a plan on one eval set, with a report."""
from __future__ import annotations

from pathlib import Path

import click

from tunewise.cli.options import force_option, json_option
from tunewise.cli.render import console, print_json, progress, table


@click.command()
@click.argument("plan", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for results, predictions and report.")
@click.option("--only", default=None, help="Comma-separated approaches of the plan to run (default: all).")
@click.option("--max-new-tokens", default=32, show_default=True, type=click.IntRange(1, 4096),
              help="Greedy decoding length, the same for every approach.")
@force_option
@json_option
def compare(plan: Path, overrides: tuple[str, ...], out: Path, only: str | None, max_new_tokens: int, force: bool, as_json: bool) -> None:
    """Build, run and evaluate every approach of PLAN on the same eval examples; an interrupted run
    resumes where it stopped (finished approaches are kept). KEY=VALUE pairs override plan keys,
    e.g. tuning.max_steps=40 limit_eval=20."""
    from tunewise.eval.report import comparison_rows
    from tunewise.eval.runner import run_compare

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    with progress() as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, info="")
            bar.update(tasks[stage], completed=done, total=total)

        results = run_compare(plan, out, force=force, only=names, max_new_tokens=max_new_tokens, progress=report, overrides=overrides)
    if as_json:
        print_json(results.model_dump(mode="json"))
        return
    header, rows = comparison_rows(results)
    console.print(table(f"{results.task}: {results.primary_metric} decides; * = measured winner", header, rows))
    console.print(f"Recommendation: {results.recommendation}  (measured winner: {results.winner})")
    console.print(f"Report: {out / 'report.html'}  (also report.md, results.json, predictions/)")
