"""Progress for long commands: one live rich display in a terminal; elsewhere (CI, `| tee`, a log file)
plain timestamped lines, one when a phase starts, at each quarter, and when it ends.

`CompareProgress` turns the runner's stage callbacks ("lora: train", "rag: embed", "compare") into one
display: an overall bar over the approaches (reused ones leave it, so they do not flatter the ETA) and
a bar for the current phase.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID

from tunewise.core.units import duration

QUARTERS = (0.25, 0.5, 0.75)
# The phases of one approach in the order they run (index = embed the corpus), with the rough share of
# the approach's time each takes; the overall bar moves by these within an approach.
PHASES = {"embed": 0.1, "train": 0.5, "predict": 0.3, "drift": 0.1}


def stamp() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")


class PlainProgress(Progress):
    """Rich's task bookkeeping (speed, time remaining) with no live display: lines instead."""

    def __init__(self, *columns: Any, console: Console, **kwargs: Any):
        super().__init__(*columns, console=console, disable=True, **kwargs)
        self._reported: dict[TaskID, float] = {}
        self._started: dict[TaskID, float] = {}    # a phase may have begun before its first report

    def _line(self, text: str) -> None:
        self.console.print(f"[{stamp()}] {text}", highlight=False, markup=False, soft_wrap=True)

    def add_task(self, description: str, start: bool = True, total: float | None = 100.0, completed: int = 0,
                 visible: bool = True, **fields: Any) -> TaskID:
        task_id = super().add_task(description, start, total, completed, visible, **fields)
        self._reported[task_id] = 0.0
        self._started[task_id] = fields.get("started_at") or time.monotonic()
        if not total:
            self._line(f"{description}: started")
        return task_id

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        task = self._tasks[task_id]
        if not task.total or self._reported.get(task_id, 1.0) >= 1.0:
            return
        share = task.completed / task.total
        if self._reported[task_id] == 0.0 and share < 1.0:
            self._reported[task_id] = 1e-9      # a phase that ends at its first report gets just one line
            self._line(f"{task.description}: started ({task.total:g} steps)")
        if share >= 1.0:
            self._reported[task_id] = 1.0
            self._line(f"{task.description}: done in {duration(time.monotonic() - self._started[task_id])}")
            return
        crossed = [q for q in QUARTERS if self._reported[task_id] < q <= share]
        if crossed:
            self._reported[task_id] = crossed[-1]
            left = f", about {duration(task.time_remaining)} left" if task.time_remaining else ""
            self._line(f"{task.description}: {share:.0%}{left}")


class CompareProgress:
    """The runner's `progress(stage, done, total)` callback, drawn as an overall bar plus the current phase."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.overall: TaskID | None = None
        self.phase: TaskID | None = None
        self.stage = ""
        self.done = 0        # approaches finished (run or reused)
        self.total = 0
        self.reused = 0
        self.last_report = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "compare":
            self.last_report = time.monotonic()
            self._end_phase()
            self.done, self.total = done, total
            self._draw(0.0)
            return
        name, phase = split_stage(stage)
        if phase == "reused":
            self.reused += 1
            self.bar.console.print(f"{name}: reused from the finished run in this folder (--force redoes it)",
                                   highlight=False)
            return
        if stage != self.stage:
            self._end_phase()
            self.stage = stage
            # the runner reports after the first batch: the phase began when the previous report came
            label = f"{name}: embed chunks" if phase == "embed" else f"{name}: {phase}"
            self.phase = self.bar.add_task(label, total=total, info="", started_at=self.last_report)
        self.bar.update(self.phase, completed=done, total=total)
        self.last_report = time.monotonic()
        self._draw(phase_fraction(phase, done / total if total else 0.0))

    def _draw(self, fraction: float) -> None:
        """Reused approaches are left out of the overall bar's total, so its ETA counts only real work."""
        work = max(self.total - self.reused, 1)
        completed = work if self.total and self.done >= self.total else max(self.done - self.reused, 0) + fraction
        info = f"{self.reused} reused" if self.reused else ""
        if self.overall is None:
            self.overall = self.bar.add_task("compare, overall", total=work, info=info)
        self.bar.update(self.overall, completed=min(completed, work), total=work, info=info)

    def _end_phase(self) -> None:
        if self.phase is not None:
            task = next(t for t in self.bar.tasks if t.id == self.phase)
            self.bar.update(self.phase, completed=task.total or 0)
            self.bar.remove_task(self.phase)
            self.phase, self.stage = None, ""


def phase_fraction(phase: str, within: float) -> float:
    """How far into an approach `phase` at `within` (0-1) is, from the phases' rough shares of its time."""
    if phase not in PHASES:
        return 0.0
    order = list(PHASES)
    before = sum(PHASES[p] for p in order[: order.index(phase)])
    return min(before + PHASES[phase] * within, 0.99)


def split_stage(stage: str) -> tuple[str, str]:
    """"lora: train" and "lora train" -> ("lora", "train")."""
    if ": " in stage:
        name, _, phase = stage.partition(": ")
    else:
        name, _, phase = stage.rpartition(" ")
    return name, phase
