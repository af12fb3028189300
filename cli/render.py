"""Rich output helpers shared by every command: tables, check lines, JSON and progress."""
from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no rich markup), for scripts."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(format_value(v) for v in row))
    return out


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def check_line(ok: bool, name: str, detail: str, fix: str = "") -> None:
    mark = "[green]OK  [/green]" if ok else "[red]FAIL[/red]"
    text = f"{mark} {name}: {detail}"
    if not ok and fix:
        text += f"  [dim]fix: {fix}[/dim]"
    console.print(text, highlight=False)


def progress(transient: bool = False) -> Progress:
    """The progress bar every long-running command uses (on stderr, so --json output stays clean)."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err_console, transient=transient,
    )


def stage_reporter(bar: Progress):
    """A `progress(stage, done, total)` callback that gives each stage its own bar on `bar`."""
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total, info="")
        bar.update(tasks[stage], completed=done, total=total)

    return report
