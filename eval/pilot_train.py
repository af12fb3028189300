"""The pilot's trainable approaches: complete short runs on the full data, scored on the sample. A run
keeps the plan's schedule (warmup, linear decay, every step) on fewer examples per step, and shortens the
schedule only below one example per step (eval/pilot_plan.py `run_shape`).

A paused long run is a poor predictor: at 5 of 40 steps its learning rate is still high and nothing has
settled (the ticket pilot's pauses sat 0.75 below the measured scores, bench/RESULTS.md); a complete
short run ends settled, as the full run does, and one with all the plan's steps comes closest.
What a step costs is measured: at the plan's own batch by a few probe steps of the plan's own run (unless
the ledger already knows them; they also give the estimate of the full compare), at a short run's batch
by that run; the two size the later runs (eval/pilot_plan.py `step_cost`). Training goes through the
tuning registry, scoring through the compare machinery (the registry's builders and predict_rows), never
a second copy.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tunewise.core import registry
from tunewise.core.data import Example
from tunewise.core.ledger import Ledger
from tunewise.core.schema import Plan
from tunewise.eval import pilot_plan
from tunewise.eval.pilot_plan import LOAD_SECONDS
from tunewise.eval.pilot_sample import Measured

PROBE_STEPS = 3             # the plan's own steps timed when the ledger does not know them; the first is left out


@dataclass
class Training:
    """A trainable approach's short runs: the longest made so far, and what its steps cost."""

    name: str
    out: Path
    full: int                   # the plan's optimizer steps
    batch: int                  # examples per optimizer step
    runs: list[int] = field(default_factory=list)     # lengths of the short runs still to make, in order
    step: int = 0               # the length of the last short run made, in the plan's steps
    shape: tuple[int, int] = (0, 0)   # that run's (optimizer steps, examples per step)
    step_s: float | None = None  # seconds a step at the plan's batch: probe steps, the plan's own run or the ledger
    measured: tuple[int, float] | None = None   # (batch, seconds a step) at a smaller batch than the plan's:
                                                # the last short run's, or the ledger's at one example
    overhead_s: float = LOAD_SECONDS   # model load and save per run, measured at the first
    loaded_s: float | None = None      # loading a run's output to score it, measured at the first score

    @property
    def seen(self) -> int:
        """Examples the last short run trained on (steps x its batch)."""
        return self.shape[0] * self.shape[1]

    @property
    def load_s(self) -> float:
        return self.overhead_s if self.loaded_s is None else self.loaded_s

    def run_seconds(self, length: int) -> float:
        """What a short run worth `length` of the plan's steps costs: its steps at its batch, loading and
        saving (not scoring)."""
        steps, batch = pilot_plan.run_shape(length, self.full, self.batch)
        return steps * pilot_plan.step_cost(batch, self.batch, self.step_s or 0.0, self.measured) + self.overhead_s


def is_tuned(name: str) -> bool:
    return registry.spec(name).tuned


def anchor_of(name: str) -> str | None:
    """The in-context approach a tuned LM equals before any training: the same prompt, untrained weights."""
    spec = registry.spec(name)
    if spec.train_task != "sft":
        return None
    if spec.retrieves:
        return next(iter(registry.select(lambda s: not s.tuned and s.retrieves)), None)
    return registry.baseline()


def tuning_block(name: str) -> str:
    """The plan `tuning:` block the approach trains with (rag+lora trains the `lora` adapter)."""
    return registry.spec(name).run_name


def run_config(plan: Plan, name: str, out: Path = Path("."), system: str = ""):
    """The tuning config `compare` would train `name` with, writing into `out`."""
    from tunewise.eval.workspace import tune_config

    return tune_config(plan, tuning_block(name), out, system)


def full_run(plan: Plan, name: str, train_size: int) -> tuple[int, int]:
    """(optimizer steps, examples per step) `compare` would train `name` with: max_steps, or epochs over
    the whole set."""
    from tunewise.tuning.config import METHOD_DEFAULTS

    cfg = run_config(plan, name)
    defaults = METHOD_DEFAULTS[cfg.method]
    batch = (cfg.batch_size or defaults["batch_size"]) * cfg.grad_accum
    if cfg.max_steps:
        return cfg.max_steps, batch
    return max(1, math.ceil(train_size / batch) * math.ceil(cfg.epochs or defaults["epochs"])), batch


def known_step_seconds(ws, name: str, batch: int | None = None) -> float | None:
    """Seconds per step the ledger has measured for this run's method, model and length here, at the plan's
    batch or at `batch` examples a step."""
    plan = ws.plan
    model = plan.model if isinstance(plan.model, str) else plan.model.model
    cfg = run_config(plan, name, Path("."), ws.system)
    if batch is not None and batch == cfg.batch_size and cfg.grad_accum > 1:
        return None     # the ledger's rows at that batch are the plan's accumulated steps, not one pass
    try:
        return pilot_plan.step_seconds_from_ledger(Ledger().runs(model=model), model, cfg.method,
                                                   batch or cfg.batch_size, cfg.max_seq_len, ws.device.device)
    except Exception:   # a ledger that cannot be read costs the pilot its prior, nothing more
        return None


def probe_steps(ws, t: Training, progress: Callable[[str, int, int], None]) -> float:
    """A complete run of PROBE_STEPS of the plan's steps at its own batch (its length and settings, the
    schedule compressed to them) into `t.out`, timed: it sets `t.step_s` and `t.overhead_s`, and is a short
    run like any other, which the pilot scores when the budget buys no longer one. Measured, not modelled
    from a smaller batch: scaling a batch-1 step up to the plan's 8 put the ticket pilot's estimate of
    compare 76% high on a 2-core CPU (bench/RESULTS.md), and on a GPU a step of 1 example costs about what
    a step of 8 does. Returns the run's peak memory (MB)."""
    length = min(PROBE_STEPS, t.full)
    return _timed_run(ws, t, length, (length, t.batch), "time steps", progress)


def train_run(ws, t: Training, length: int, progress: Callable[[str, int, int], None]) -> float:
    """A complete run from scratch worth `length` of the plan's steps (its shape from `run_shape`), into
    `t.out` (where the approach's build finds it); returns the run's peak memory (MB)."""
    return _timed_run(ws, t, length, pilot_plan.run_shape(length, t.full, t.batch), "train", progress)


def _timed_run(ws, t: Training, length: int, shape: tuple[int, int], stage: str,
               progress: Callable[[str, int, int], None]) -> float:
    """A run from scratch of `shape` (optimizer steps, examples a step), worth `length` of the plan's steps,
    into `t.out`; measures seconds a step at its batch (the plan's step time too, at the plan's batch) and
    the run's loading and saving. Returns the run's peak memory (MB)."""
    from tunewise.tuning.registry import run_tuning

    started = time.monotonic()
    steps, batch = shape
    update = {"max_steps": steps, "resume": False, "force": True}
    if batch != t.batch:
        update.update(batch_size=batch, grad_accum=1)
    cfg = run_config(ws.plan, t.name, t.out, ws.system).model_copy(update=update)
    ends: list[float] = []          # when each step ended

    def report(p) -> None:
        if p.step > 0:
            ends.append(time.monotonic())
        progress(f"pilot {t.name}: {stage}", p.step, steps)

    run = run_tuning(cfg, report)         # not the ledger's tune hook: a short run is not the plan's run
    wall = time.monotonic() - started
    measured = step_seconds(ends, run.train_seconds, steps)
    if batch == t.batch:                  # the plan's own batch (the probe, a head's whole run)
        t.step_s = measured
    else:                                 # kept apart from step_s: the two batches draw step_cost's line
        t.measured = (batch, measured)
    t.overhead_s = max(wall - measured * steps, 0.0)
    t.step, t.shape = length, (steps, batch)
    return run.peak_memory_mb or 0.0


def step_seconds(ends: list[float], train_seconds: float, steps: int) -> float:
    """Seconds per step from when the steps ended, leaving out the first: it carries the Trainer's start
    (optimizer, first allocations), which a short run spreads over too few steps and the estimate of the
    plan's long run then multiplies (bench.pilot --steps 120 found the pilot's estimate of compare 2.35
    times what compare took). With fewer than three steps, the run's own average."""
    if len(ends) >= 3:
        return (ends[-1] - ends[0]) / (len(ends) - 1)
    return train_seconds / max(steps, 1)


def score_run(ws, t: Training, sample: list[Example], measured: Measured) -> tuple[float, float]:
    """Score `t`'s last short run on the sample, adding the rows at its examples seen; returns the
    seconds it took and the peak memory (MB)."""
    from tunewise.eval.runner import PeakMemory, predict_rows
    from tunewise.eval.workspace import build_approach

    started = time.monotonic()
    with PeakMemory() as memory:
        built = build_approach(ws, t.name)
        loaded = time.monotonic()
        timings: list[tuple[int, float]] = []
        rows = predict_rows(ws, f"pilot {t.name}", built.system, sample, timings=timings)
    done = time.monotonic()
    t.loaded_s = loaded - started
    measured.time_answers(t.name, timings, fresh=True)
    measured.rows.setdefault(t.name, []).append(rows)
    measured.x.setdefault(t.name, []).append(t.seen)
    return done - started, max(memory.peak_mb, built.peak_memory_mb or 0.0)
