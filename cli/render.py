"""Rich output helpers shared by every command: tables, check lines, JSON and progress."""
from __future__ import annotations

import json
import time
from typing import Any, Iterable, Sequence

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no rich markup), for scripts."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


TERMINAL_WIDTH = 80
COLUMN_GAP = 3        # SIMPLE_HEAD: a one-space divider plus one space of padding each side


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table whose numbers never break across lines: only free-text columns wrap."""
    cells = [[format_value(v) for v in row] for row in rows]
    out = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                pad_edge=False, min_width=min(len(title or ""), TERMINAL_WIDTH))   # the title on one line
    for i, column in enumerate(columns):
        text = is_text_column([row[i] for row in cells])
        out.add_column(column, overflow="fold" if text else "ellipsis", no_wrap=not text,
                       justify="left" if text or i == 0 else "right")
    for row in cells:
        out.add_row(*row)
    return out


def is_text_column(values: Sequence[str]) -> bool:
    """Free text (wraps at spaces) rather than numbers, names and short quantities like "12 min"."""
    return any(len(v) > 16 and " " in v for v in values)


def fitting_tables(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                   width: int = TERMINAL_WIDTH) -> list[Table]:
    """`table` split by columns into as many tables as it takes to fit `width`, each repeating the
    first (naming) column, so a wide comparison stays readable at 80 columns."""
    cells = [[format_value(v) for v in row] for row in rows]
    widths = [max([len(line) for line in str(c).splitlines()] + [len(row[i]) for row in cells]) + COLUMN_GAP
              for i, c in enumerate(columns)]
    groups: list[list[int]] = [[]]
    for i in range(1, len(columns)):
        if groups[-1] and widths[0] + sum(widths[j] for j in groups[-1]) + widths[i] > width:
            groups.append([])
        groups[-1].append(i)
    out = []
    for n, group in enumerate(groups):
        part = title if len(groups) == 1 else f"{title} ({n + 1}/{len(groups)})"
        out.append(table(part, [columns[0], *(columns[i] for i in group)],
                         [[row[0], *(row[i] for i in group)] for row in rows]))
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
    """The progress display every long-running command uses (on stderr, so --json output stays clean):
    live bars in a terminal, timestamped lines when stderr is a pipe or a file."""
    from tunewise.cli.progress import PlainProgress

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())
    if not err_console.is_terminal:
        return PlainProgress(*columns, console=err_console)
    return Progress(*columns, console=err_console, transient=transient)


def stage_reporter(bar: Progress):
    """A `progress(stage, done, total)` callback that gives each stage its own bar on `bar`. Stages report
    after their first batch, so a stage began when the previous report came (a one-batch stage had read
    "done in 0.0 ms" in `advise --pilot`)."""
    tasks: dict[str, int] = {}
    last = [time.monotonic()]

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total, info="", started_at=last[0])
        bar.update(tasks[stage], completed=done, total=total)
        last[0] = time.monotonic()

    return report
