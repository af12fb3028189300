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
# The phases of one approach (embed = index the corpus), with the rough share of its time each takes:
# the overall bar's weights when there are no estimates (advisor/eta.py) for this model.
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
    """The runner's `progress(stage, done, total)` callback, drawn as an overall bar plus the current phase.

    The overall bar is weighted by each phase's estimated seconds (advisor/eta.py) when there are
    estimates, else every approach weighs the same; rich's time left then scales those weights by the
    speed measured so far. Reused approaches leave the total, so they do not flatter the estimate.
    """

    def __init__(self, bar: Progress, names: list[str], weights: dict[str, dict[str, float]] | None = None):
        self.bar = bar
        self.names = names
        self.weights = weights or {name: dict(PHASES) for name in names}
        self.overall: TaskID | None = None
        self.phase: TaskID | None = None
        self.stage = ""
        self.done = 0                # approaches finished (run or reused)
        self.reused: set[str] = set()
        self.within = 0.0            # estimated seconds of the current approach already done
        self.phase_weight = 0.0
        self.last_report = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "compare":
            self.last_report = time.monotonic()
            self._end_phase()
            self.done, self.within = done, 0.0
            self._draw(0.0)
            return
        name, phase = split_stage(stage)
        if phase == "reused":
            self.reused.add(name)
            self.bar.console.print(f"{name}: reused from the finished run in this folder (--force redoes it)",
                                   highlight=False)
            return
        if stage != self.stage:
            self._end_phase()
            self.stage, self.phase_weight = stage, self._weight(phase)
            # the runner reports after the first batch: the phase began when the previous report came
            label = f"{name}: embed chunks" if phase == "embed" else f"{name}: {phase}"
            self.phase = self.bar.add_task(label, total=total, info="", started_at=self.last_report)
        self.bar.update(self.phase, completed=done, total=total)
        self.last_report = time.monotonic()
        self._draw(self.phase_weight * (done / total if total else 0.0))

    def _weight(self, phase: str) -> float:
        current = self.names[self.done] if self.done < len(self.names) else None
        return self.weights.get(current, {}).get(phase, 0.0)

    def _draw(self, partial: float) -> None:
        counted = [n for n in self.names if n not in self.reused]
        work = sum(sum(self.weights[n].values()) for n in counted) or 1.0
        finished = sum(sum(self.weights[n].values()) for n in self.names[: self.done] if n not in self.reused)
        share = 1.0 if self.done >= len(self.names) else min((finished + self.within + partial) / work, 1.0)
        info = f"{self.done}/{len(self.names)} approaches" + (f", {len(self.reused)} reused" if self.reused else "")
        if self.overall is None:   # in percent: the weights are estimated seconds, not a count to show
            self.overall = self.bar.add_task("compare, overall", total=100, info=info)
        self.bar.update(self.overall, completed=round(100 * share, 1), info=info)

    def _end_phase(self) -> None:
        if self.phase is not None:
            task = next(t for t in self.bar.tasks if t.id == self.phase)
            self.bar.update(self.phase, completed=task.total or 0)
            self.bar.remove_task(self.phase)
            self.within += self.phase_weight
            self.phase, self.stage = None, ""


def split_stage(stage: str) -> tuple[str, str]:
    """"lora: train" and "lora train" -> ("lora", "train")."""
    if ": " in stage:
        name, _, phase = stage.partition(": ")
    else:
        name, _, phase = stage.rpartition(" ")
    return name, phase
