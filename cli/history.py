"""`tunewise history`: the ledger of measured runs, filtered, and how often the advisor's pick won."""
from __future__ import annotations

import click

from tunewise.cli.options import json_option
from tunewise.cli.render import console, print_json

COLUMNS = ("recorded_at", "kind", "task", "approach", "examples", "metric", "metric_value", "train_seconds",
           "peak_memory_mb", "latency_ms_p50")
LABELS = ("#", "recorded (UTC)", "kind", "task", "approach", "examples", "metric", "value", "train s", "peak MB",
          "p50 ms")


def history_tables(title: str, runs, width: int) -> list:
    """The runs as tables that fit `width`: split by columns where they must, each part led by the row's
    number so its rows still match (rich would otherwise squeeze every cell to an ellipsis at 80 columns)."""
    from tunewise.cli.render import fitting_tables

    def cell(run, column):
        value = getattr(run, column)
        return value.replace("T", " ")[:16] if column == "recorded_at" and value else value

    rows = [[n, *(cell(r, c) for c in COLUMNS)] for n, r in enumerate(runs, 1)]
    return fitting_tables(title, list(LABELS), rows, width=width)


@click.command()
@click.option("--kind", type=click.Choice(["compare", "tune", "pilot"]), help="Only runs of this kind.")
@click.option("--approach", help="Only this approach (lora, head, few-shot, ...).")
@click.option("--task", help="Only this task (classification, generation, qa).")
@click.option("--model", help="Only runs of this model.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Newest N runs.")
@json_option
def history(kind, approach, task, model, limit, as_json) -> None:
    """List the measured runs in the ledger ($TUNEWISE_HOME/ledger.sqlite), newest first, and how often
    the advisor's pick was the measured winner (with and without a pilot)."""
    from tunewise.core.ledger import Ledger, agreement

    ledger = Ledger()
    runs = ledger.runs(kind=kind, approach=approach, task=task, model=model, limit=limit)
    picks = ledger.picks()
    if as_json:
        print_json({"ledger": str(ledger.path), "runs": [r.model_dump(mode="json") for r in runs],
                    "advisor": agreement(picks), "picks": [p.model_dump(mode="json") for p in picks]})
        return
    for part in history_tables(f"Measured runs in {ledger.path}", runs, console.width):
        console.print(part)
    for label, counts in agreement(picks).items():
        if counts["comparisons"]:
            console.print(f"Advisor's pick {label.replace('_', ' ')}: the measured winner (or tied with it) in "
                          f"{counts['matched']} of {counts['comparisons']} comparisons.", highlight=False)
    if not picks:
        console.print("No comparison with an advisor's pick recorded yet.", highlight=False)
