"""The pilot: measure every candidate of a plan cheaply, inside a wall-clock budget, and predict how each
will do at full scale.

- The pilot allows itself the smaller of the user's budget and a share of what the full `compare` of the
  same plan is estimated to cost from its own first measurements (eval/pilot_plan.py).
- In-context approaches (and their API variants, when the plan has an API model) answer a stratified sample
  of the eval set (or of a held-out slice of train). The sample starts at MIN_PER_CLASS per class, which
  also measures each approach's seconds per answer, and grows to what the budget buys.
- A trainable approach trains once, on the full data with the full run's schedule, pausing at growing step
  counts (a warm-start curve: each pause is a point on the very run `compare` trains); it is scored on the
  same sample at each pause. The first pause measures seconds per step (or the ledger already knows them),
  which places the later pauses. The curve (eval/curves.py) is in examples seen (steps x batch), the axis
  that differs between the pilot and the full run, and starts at the zero-shot score for tuned LMs.
- Successive halving: after each rung, approaches whose interval lies clearly below the leader's stop.
- Every prediction has a 95% interval: a bootstrap over the sample's examples (refitting the curve on
  each resample), widened by the fit's own delta-method error.
Measuring goes through the compare machinery (Workspace, the registry's builders, predict_rows), never a
second copy. Ctrl-C stops measuring and keeps what was measured; each point is appended to the ledger.
"""
from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tunewise.core import registry
from tunewise.core.data import Example, load_corpus, load_dataset
from tunewise.core.errors import ConfigError, DataError
from tunewise.core.files import app_home
from tunewise.core.ledger import Ledger, MeasuredRun
from tunewise.core.schema import Plan
from tunewise.eval import pilot_plan
from tunewise.eval.curves import crossing, fit_curve, stable_at
from tunewise.eval.pilot_records import (
    CurveFit, PilotPoint, PilotPrediction, PilotResult, rank_predictions, round_labels, separation_statements,
)

LOAD_SECONDS = 10.0         # loading the bundled 135M model and tokenizer on this CPU, measured
EXAMPLE_SECONDS = 0.6       # one zero-shot answer of the bundled model on this CPU, measured
CURVE_RESAMPLES = 99
Progress = Callable[[str, int, int], None]


@dataclass
class Measured:
    rows: dict[str, list[list[dict]]] = field(default_factory=dict)   # approach -> rows per rung
    x: dict[str, list[int]] = field(default_factory=dict)             # approach -> examples seen per rung
    answer_s: dict[str, float] = field(default_factory=dict)          # approach -> seconds per answer


@dataclass
class Training:
    """One warm-started run of a trainable approach: where it is, and what its steps cost."""

    name: str
    out: Path
    full: int                   # the plan's optimizer steps
    batch: int                  # examples per optimizer step
    pauses: list[int] = field(default_factory=list)   # steps still to reach, in order
    step: int = 0               # where it is paused now
    step_s: float | None = None
    overhead_s: float = LOAD_SECONDS   # model load and checkpoint per pause, measured at the first


def stratified_order(examples: list[Example], seed: int, by_label: bool) -> list[Example]:
    """Every example, round-robin over labels (shuffled within each): any prefix is as stratified as its
    length allows, so a sample can grow by taking more of the same order."""
    rng = random.Random(seed)
    groups: dict[str, list[Example]] = {}
    for e in examples:
        groups.setdefault(e.response if by_label else "", []).append(e)
    for group in groups.values():
        rng.shuffle(group)
    order: list[Example] = []
    while len(order) < len(examples):
        for label in sorted(groups):
            if groups[label]:
                order.append(groups[label].pop())
    return order


def stratified(examples: list[Example], size: int, seed: int, by_label: bool) -> list[Example]:
    """`size` examples, each label as evenly represented as the size allows, in the data's order."""
    position = {e.id: i for i, e in enumerate(examples)}
    return sorted(stratified_order(examples, seed, by_label)[:size], key=lambda e: position[e.id])


def write_subset(examples: list[Example], path: Path, task: str) -> Path:
    """A training file of `examples` in a shape `load_dataset` reads back unchanged."""
    from tunewise.core.files import atomic_write_text

    def record(e: Example) -> dict:
        if task == "classification":
            return {"id": e.id, "text": e.prompt, "label": e.response}
        if e.messages is not None:
            return {"id": e.id, "messages": list(e.messages)}
        return {"id": e.id, "prompt": e.prompt, "completion": e.response}

    return atomic_write_text(path, "".join(json.dumps(record(e), ensure_ascii=False) + "\n" for e in examples))


def write_holdout(train: Path, folder: Path, task: str, seed: int, stem: str = "pilot") -> tuple[Path, Path, int]:
    """No eval set: hold out a stratified slice of train. Writes FOLDER/STEM-train.jsonl (the rest) and
    FOLDER/STEM-holdout.jsonl; returns both paths and the number held out."""
    data = load_dataset(train)
    classification = task == "classification"
    rest, held = pilot_plan.holdout_split(list(data.examples), seed, classification, len(data.labels))
    if not held or len(rest) < 2:
        raise DataError(train, f"{len(data.examples)} examples are too few to hold out an eval slice; give --eval")
    return (write_subset(rest, folder / f"{stem}-train.jsonl", task),
            write_subset(held, folder / f"{stem}-holdout.jsonl", task), len(held))


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


def full_run(plan: Plan, name: str, train_size: int) -> tuple[int, int]:
    """(optimizer steps, examples per step) `compare` would train `name` with: max_steps, or epochs over
    the whole set."""
    from tunewise.eval.workspace import tune_config
    from tunewise.tuning.config import METHOD_DEFAULTS

    cfg = tune_config(plan, tuning_block(name), Path("."), "")
    defaults = METHOD_DEFAULTS[cfg.method]
    batch = (cfg.batch_size or defaults["batch_size"]) * cfg.grad_accum
    if cfg.max_steps:
        return cfg.max_steps, batch
    return max(1, math.ceil(train_size / batch) * math.ceil(cfg.epochs or defaults["epochs"])), batch


def full_steps(plan: Plan, name: str, train_size: int) -> int:
    return full_run(plan, name, train_size)[0]


class Pilot:
    """One pilot run over a plan's approaches; `run()` returns the `PilotResult`.

    `sample_size` fixes the sample (no growth from the budget); by default it is planned.
    """

    def __init__(self, plan: Plan, budget_s: float, answers=None, progress: Progress | None = None,
                 sample_size: int | None = None, work: Path | None = None, max_new_tokens: int = 16,
                 eval_source: str = "eval set"):
        from tunewise.eval.runner import approach_names

        self.plan, self.budget_s, self.answers = plan, budget_s, answers
        self.report = progress or (lambda stage, done, total: None)
        self.started = time.monotonic()
        self.train = load_dataset(plan.train)
        self.names = approach_names(plan, None)
        self.order = self._order()
        classes = len(self.train.labels) if plan.task == "classification" else 0
        self.fixed = sample_size is not None
        self.minimum = max(sample_size or 0, pilot_plan.minimum_sample(classes, len(self.order)))
        self.minimum = min(self.minimum, len(self.order))
        self.sample = self.order[: self.minimum]
        self.work = work
        self.max_new_tokens = max_new_tokens
        self.measured = Measured()
        self.trainings: dict[str, Training] = {}
        self.ceiling = budget_s
        self.result = PilotResult(metric=self._metric(), sample_size=len(self.sample), train_examples=len(self.train),
                                  budget_seconds=budget_s, seconds=0.0, peak_memory_mb=0.0, eval_source=eval_source)
        self._check_budget()

    def _metric(self) -> str:
        from tunewise.eval.stats import VERDICT_METRIC

        return VERDICT_METRIC[self.plan.task]

    def _order(self) -> list[Example]:
        evaluation = list(load_dataset(self.plan.eval).examples[: self.plan.limit_eval])
        if self.plan.task == "classification":
            classes = len(self.train.labels)
            if len(evaluation) < classes:
                raise DataError(self.plan.eval, f"the eval set has {len(evaluation)} examples, fewer than the "
                                                f"{classes} classes; the pilot needs at least one per class")
        return stratified_order(evaluation, self.plan.seed, self.plan.task == "classification")

    def minimum_seconds(self) -> float:
        return LOAD_SECONDS + EXAMPLE_SECONDS * len(self.sample)

    def _check_budget(self) -> None:
        needed = self.minimum_seconds()
        if self.budget_s < needed:
            raise ConfigError(f"--pilot-budget {self.budget_s:g}s is too small to measure anything: loading the "
                              f"model and answering the {len(self.sample)}-example sample once needs about "
                              f"{math.ceil(needed)}s")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def progress(self, stage: str, done: int, total: int) -> None:
        self.report(stage, done, total)
        self.report("pilot budget (s)", min(int(self.elapsed), int(self.budget_s)), int(self.budget_s))

    # -- running ------------------------------------------------------------------------------------

    def run(self) -> PilotResult:
        self.work = self.work or Path(tempfile.mkdtemp(prefix="pilot-", dir=app_home()))
        try:
            self._measure()
        except KeyboardInterrupt:
            self.result.interrupted = True
            self.result.statements.append("Interrupted: the predictions use what was measured before Ctrl-C.")
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        self.result.seconds = round(self.elapsed, 1)
        self._conclude()
        return self.result

    def _measure(self) -> None:
        from tunewise.eval.workspace import Workspace

        corpus = load_corpus(self.plan.corpus) if self.plan.corpus else None
        ws = Workspace(self.plan, self.train, corpus, self.work, self.max_new_tokens, self.progress, _device())
        in_context = [n for n in self.names if not is_tuned(n)]
        systems = {}
        for name in in_context:                              # the minimum sample; measures s per answer
            if self._fits(self._answer_estimate(name, len(self.sample))):
                systems[name] = self._answer(ws, name, self.sample)
            else:
                self.result.skipped.append(f"{name}: not measured, the budget was spent")
        for name in [n for n in self.names if is_tuned(n)]:  # the first pause; measures s per step
            self._start_training(ws, name)
        self._plan_rest()
        for name, system in systems.items():                 # the sample grows to what the budget bought
            extra = self.sample[len(self.measured.rows[name][0]):]
            if extra and self._fits(self._answer_estimate(name, len(extra))):
                self._answer(ws, name, extra, system)
            self._record_point(name, rung=0, labels=len(self.train), steps=None, seconds=0.0, peak=0.0)
        self.result.sample_size = len(self.sample)
        self._rungs(ws)

    def _rungs(self, ws) -> None:
        """Score every trainable at its pause, drop the clearly worse, continue the rest to their next pause."""
        pending, rung = list(self.trainings.values()), 1
        while pending:
            for t in pending:
                self._score_pause(ws, t, rung)
            self._halve()
            going = []
            for t in (t for t in pending if t.pauses and t.name not in self.result.dropped):
                step = t.pauses.pop(0)
                if self._fits((step - t.step) * (t.step_s or 0.0) + 2 * t.overhead_s
                              + self.measured.answer_s.get(t.name, EXAMPLE_SECONDS) * len(self.sample)):
                    self._train_to(ws, t, step)
                    going.append(t)
                else:
                    self.result.skipped.append(f"{t.name} rung {rung + 1} ({step} steps): it would overrun the budget")
            pending, rung = going, rung + 1

    # -- in-context answers ---------------------------------------------------------------------------

    def _answer_estimate(self, name: str, count: int) -> float:
        per = self.measured.answer_s.get(name)
        if per is None:
            per = EXAMPLE_SECONDS * (3 if registry.spec(name).prompt_extra != "none" else 1)
        return per * count

    def _answer(self, ws, name: str, examples: list[Example], system=None):
        """Answer `examples` with `name` (built once), adding to its rows; returns the system."""
        from tunewise.eval.runner import PeakMemory, predict_rows
        from tunewise.eval.workspace import build_approach

        with PeakMemory() as memory:
            if system is None:
                system = build_approach(ws, name).system
            started = time.monotonic()
            rows = predict_rows(ws, f"pilot {name}", system, examples)
            seconds = time.monotonic() - started
        self.measured.answer_s[name] = seconds / max(len(examples), 1)
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, round(memory.peak_mb, 1))
        if name in self.measured.rows:
            self.measured.rows[name][0] += rows
        else:
            self.measured.rows[name], self.measured.x[name] = [rows], [0]
        return system

    # -- trainable rungs ------------------------------------------------------------------------------

    def _start_training(self, ws, name: str) -> None:
        steps, batch = full_run(self.plan, name, len(self.train))
        model = self.plan.model if isinstance(self.plan.model, str) else self.plan.model.model
        cfg = self._config(ws, name, Path("."))
        try:
            known = pilot_plan.step_seconds_from_ledger(Ledger().runs(model=model), model, cfg.method,
                                                        cfg.batch_size, cfg.max_seq_len, ws.device.device)
        except Exception:   # a ledger that cannot be read costs the pilot its prior, nothing more
            known = None
        if any(t.out == ws.out / "models" / tuning_block(name) for t in self.trainings.values()):
            self.result.skipped.append(f"{name}: shares the {tuning_block(name)} run, which is piloted once")
            return
        share = max(self.budget_s - self.elapsed, 0.0) * pilot_plan.PLAN_SHARE / max(len(self._trainable()), 1)
        t = Training(name, ws.out / "models" / tuning_block(name), steps, batch, step_s=known)
        first = pilot_plan.first_pause(steps, known, share)
        if not self._fits(first * (known or 0.0) + 2 * LOAD_SECONDS):
            self.result.skipped.append(f"{name}: not trained, the budget was spent")
            return
        self.trainings[name] = t
        self._train_to(ws, t, first)

    def _trainable(self) -> list[str]:
        return [n for n in self.names if is_tuned(n)]

    def _config(self, ws, name: str, out: Path):
        from tunewise.eval.workspace import tune_config

        return tune_config(ws.plan, tuning_block(name), out, ws.system)

    def _train_to(self, ws, t: Training, step: int) -> None:
        """Continue `t`'s run to `step` on the full run's schedule (pausing there unless it is the end)."""
        from tunewise.tuning.registry import run_tuning

        started = time.monotonic()
        resume = t.step > 0
        cfg = self._config(ws, t.name, t.out).model_copy(update={
            "max_steps": t.full, "stop_at_step": step if step < t.full else None, "resume": resume,
            "force": not resume})
        report = lambda p: self.progress(f"pilot {t.name}: train", p.step, t.full)  # noqa: E731
        run = run_tuning(cfg, report)         # not the ledger's tune hook: a paused segment is not a run
        wall = time.monotonic() - started
        t.step_s = run.train_seconds / max(step - t.step, 1)
        t.overhead_s = max(wall - run.train_seconds, 0.0)
        t.step = step
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, run.peak_memory_mb or 0.0)

    def _score_pause(self, ws, t: Training, rung: int) -> None:
        from tunewise.eval.runner import PeakMemory, predict_rows
        from tunewise.eval.workspace import build_approach

        started = time.monotonic()
        with PeakMemory() as memory:
            built = build_approach(ws, t.name)
            rows = predict_rows(ws, f"pilot {t.name}", built.system, self.sample)
        seconds = time.monotonic() - started
        self.measured.answer_s[t.name] = seconds / max(len(self.sample), 1)
        self.measured.rows.setdefault(t.name, []).append(rows)
        self.measured.x.setdefault(t.name, []).append(t.step * t.batch)
        peak = max(memory.peak_mb, built.peak_memory_mb or 0.0)
        self._record_point(t.name, rung, min(len(self.train), t.step * t.batch), t.step, seconds, peak, t)

    def _record_point(self, name: str, rung: int, labels: int, steps: int | None, seconds: float, peak: float,
                      t: Training | None = None) -> None:
        from tunewise.eval.stats import metric_statistic, metric_value, paired_bootstrap

        rows = self.measured.rows[name][-1]
        value = metric_value(self.plan.task, rows)
        low, high, _ = paired_bootstrap(metric_statistic(self.plan.task, rows), len(rows), seed=self.plan.seed)
        latency = sorted(r["latency_ms"] for r in rows)[len(rows) // 2]
        point = PilotPoint(approach=name, rung=rung, labels=labels, steps=steps,
                           examples_seen=None if t is None else t.step * t.batch,
                           step_seconds=None if t is None or t.step_s is None else round(t.step_s, 3),
                           value=round(value, 4), low=round(low, 4), high=round(high, 4),
                           seconds=round(seconds or self.measured.answer_s[name] * len(rows), 2),
                           peak_memory_mb=round(peak, 1), latency_ms_p50=round(latency, 2))
        self.result.points.append(point)
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, point.peak_memory_mb)
        self._record(point, t)

    def _record(self, point: PilotPoint, t: Training | None) -> None:
        model = self.plan.model if isinstance(self.plan.model, str) else self.plan.model.model
        settings = {"rung": point.rung, "steps": point.steps, "sample": len(self.measured.rows[point.approach][-1])}
        if t is not None and t.step_s is not None:
            cfg = self._config_for_ledger(t.name)
            settings.update(method=cfg.method, batch_size=cfg.batch_size, max_seq_len=cfg.max_seq_len,
                            step_seconds=round(t.step_s, 4), examples_seen=point.examples_seen)
        Ledger().append_runs([MeasuredRun(
            kind="pilot", approach=point.approach, task=self.plan.task, examples=point.labels, model=model,
            settings=settings, metric=self.result.metric, metric_value=point.value, train_seconds=point.seconds,
            peak_memory_mb=point.peak_memory_mb, latency_ms_p50=point.latency_ms_p50,
            device=_device().device)])

    def _config_for_ledger(self, name: str):
        from tunewise.eval.workspace import tune_config

        return tune_config(self.plan, tuning_block(name), Path("."), "")

    # -- planning -------------------------------------------------------------------------------------

    def _plan_rest(self) -> None:
        """From what the first measurements cost: the pilot's ceiling, the sample size, the later pauses."""
        baseline = self.measured.answer_s.get(registry.baseline(), max(self.measured.answer_s.values(),
                                                                        default=EXAMPLE_SECONDS))
        answer = {n: self.measured.answer_s.get(n, baseline) for n in self.names}
        trainings = list(self.trainings.values())
        load = max([t.overhead_s for t in trainings] or [LOAD_SECONDS])
        estimate = pilot_plan.compare_seconds(len(self.order), answer.values(),
                                              [(t.full, t.step_s or 0.0, t.overhead_s) for t in trainings], load)
        self.ceiling = min(self.budget_s, pilot_plan.PLAN_SHARE * estimate)
        self.result.compare_estimate_seconds = round(estimate, 1)
        self.result.planned_seconds = round(self.ceiling, 1)
        left = max(self.ceiling - self.elapsed, 0.0)
        growing = sum(answer[n] for n in self.measured.rows)      # the in-context approaches, per example

        def training(t: Training, pauses: list[int]) -> float:
            return len(pauses) * 2 * t.overhead_s + ((pauses or [t.step])[-1] - t.step) * (t.step_s or 0.0)

        def cost(size: int, plan: dict[str, list[int]]) -> float:
            return growing * max(size - len(self.sample), 0) + sum(
                (1 + len(plan[t.name])) * answer[t.name] * size + training(t, plan[t.name]) for t in trainings)

        share = left * pilot_plan.TRAIN_SHARE / max(len(trainings), 1)
        plan = {t.name: pilot_plan.plan_pauses(t.step, t.full, t.step_s or 0.0, share) for t in trainings}
        size = len(self.sample)
        if not self.fixed:
            per_example = growing + sum((1 + len(plan[t.name])) * answer[t.name] for t in trainings)
            fixed = sum(training(t, plan[t.name]) for t in trainings) - growing * len(self.sample)
            sample = pilot_plan.plan_sample(left - fixed, per_example, len(self.order), self.minimum)
            size = sample.size
            if sample.statement(len(self.order)):
                self.result.statements.append(sample.statement(len(self.order)))
        spare = (left - cost(size, plan)) / max(len(trainings), 1)
        for t in trainings:          # what the sample left over goes back to training
            if spare > 0:
                reach = ((plan[t.name] or [t.step])[-1] - t.step) * (t.step_s or 0.0)
                plan[t.name] = pilot_plan.plan_pauses(t.step, t.full, t.step_s or 0.0, reach + spare)
        while cost(size, plan) > left and any(plan.values()):   # over: fewer pauses, nearest first
            longest = max(trainings, key=lambda t: len(plan[t.name]))
            plan[longest.name] = plan[longest.name][1:]
        for t in trainings:
            t.pauses = plan[t.name]
        self.sample = self.order[:size]

    def _fits(self, seconds: float) -> bool:
        """Within the user's budget and, once planned, within PILOT_SHARE of the estimated compare."""
        hard = min(self.budget_s, self.ceiling * pilot_plan.PILOT_SHARE / pilot_plan.PLAN_SHARE)
        return self.elapsed + seconds <= hard

    def _halve(self) -> None:
        """Drop approaches whose predicted interval lies wholly below the leader's."""
        predictions = self._predict()
        if not predictions:
            return
        leader = max(predictions, key=lambda p: p.value)
        for p in predictions:
            # Only a fitted curve may drop an approach: a last point at a small rung understates it.
            if p.basis == "curve" and p.approach not in self.result.dropped and p.high < leader.low:
                self.result.dropped[p.approach] = (f"interval [{p.low:.2f}, {p.high:.2f}] below {leader.approach}'s "
                                                   f"[{leader.low:.2f}, {leader.high:.2f}] after rung "
                                                   f"{len(self.measured.x[p.approach])}")

    # -- predicting ---------------------------------------------------------------------------------

    def _predict(self) -> list[PilotPrediction]:
        return [self._prediction(name) for name in self.measured.rows]

    def _points(self, name: str) -> tuple[list[int], list[list[dict]]]:
        """Examples seen and rows per pause, from the untrained anchor (0 examples) when it answered the same sample."""
        anchor = anchor_of(name)
        xs, rows = list(self.measured.x[name]), list(self.measured.rows[name])
        if anchor in self.measured.rows and len(self.measured.rows[anchor][0]) == len(rows[0]):
            xs, rows = [0] + xs, [self.measured.rows[anchor][0]] + rows
        return xs, rows

    def _prediction(self, name: str, keep_curve: bool = False) -> PilotPrediction:
        from tunewise.eval.stats import metric_value

        last = next(p for p in reversed(self.result.points) if p.approach == name)
        measured = PilotPrediction(approach=name, metric=self.result.metric, value=last.value, low=last.low,
                                   high=last.high, basis="measured", at_labels=len(self.train))
        t = self.trainings.get(name)
        if t is None:
            return measured
        measured.at_steps = t.full
        if last.steps == t.full:         # the pilot reached the plan's steps: nothing to extrapolate
            return measured
        target = t.full * t.batch
        xs, rows = self._points(name)
        ys = [metric_value(self.plan.task, r) for r in rows]
        fit = fit_curve(xs, ys)
        stable = stable_at(fit, xs, ys, target)
        if keep_curve and fit is not None:
            self.result.curves.append(CurveFit(approach=name, family=fit.family, params=[round(p, 6) for p in fit.params],
                                               rmse=round(fit.rmse, 4), stable=stable,
                                               holdout_error=None if fit.holdout_error is None else round(fit.holdout_error, 4)))
        if not stable:
            return measured.model_copy(update={"basis": "last-point"})
        value = min(1.0, max(0.0, fit.predict(target)))
        low, high = self._curve_interval(fit, xs, rows, target, value)
        return measured.model_copy(update={"value": round(value, 4), "low": round(low, 4), "high": round(high, 4),
                                           "basis": "curve"})

    def _curve_interval(self, fit, xs, rows, target: float, value: float) -> tuple[float, float]:
        """Bootstrap over the sample (the chosen family refitted on each resample) plus the fit's own error."""
        import warnings

        import numpy as np
        from scipy import stats

        from tunewise.eval.curves import BY_NAME, fit_family
        from tunewise.eval.stats import metric_statistic

        statistics = [metric_statistic(self.plan.task, r) for r in rows]
        family = BY_NAME[fit.family]

        def refit(idx):
            found = fit_family(family, xs, [s(idx) for s in statistics])
            return float(family.func(float(target), *found[0])) if found else value

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            boot = stats.bootstrap((np.arange(len(rows[-1])),), refit, vectorized=False, paired=True,
                                   n_resamples=CURVE_RESAMPLES, method="percentile",
                                   random_state=np.random.default_rng(self.plan.seed))
        low, high = boot.confidence_interval
        own = 1.96 * (fit.prediction_se(target) or 0.0)
        low, high = value - math.hypot(value - low, own), value + math.hypot(high - value, own)
        return max(0.0, low), min(1.0, high)

    def _conclude(self) -> None:
        if not self.result.points:
            self.result.statements.append("Nothing was measured inside the budget.")
            return
        predictions = [self._prediction(name, keep_curve=True) for name in self.measured.rows]
        latency = {p.approach: p.latency_ms_p50 for p in self.result.points}
        for p in predictions:
            self._apply_limits(p)
        ranked = rank_predictions(predictions, latency)
        self.result.predictions = ranked
        self.result.recommendation = ranked[0].approach
        self.result.crossings = self._crossings(ranked)
        self.result.statements += separation_statements(ranked, len(self.sample))
        self.result.statements += self._sample_statements(ranked[0])

    def _sample_statements(self, leader: PilotPrediction) -> list[str]:
        """What the sample can tell apart, and how far it may sit from the whole eval set's score."""
        size, population = len(self.sample), len(self.order)
        out = [f"A paired sample of {size} examples separates approaches about "
               f"{pilot_plan.detectable_difference(size, leader.value):.2f} apart near {leader.value:.2f}; "
               f"a score on it is within about {pilot_plan.sampling_error(size, population, leader.value):.2f} "
               f"(one standard error) of the score on all {population} eval examples."]
        if self.result.compare_estimate_seconds and self.result.planned_seconds < self.budget_s:
            out.append(f"The pilot planned {self.result.planned_seconds:.0f}s, a {pilot_plan.PLAN_SHARE:.0%} share "
                       f"of the {self.result.compare_estimate_seconds:.0f}s the full compare is estimated to take "
                       f"(a pilot costlier than a quarter of it is not worth running).")
        return out

    def _apply_limits(self, p: PilotPrediction) -> None:
        """The user's limits (latency per answer, memory, money) against what the pilot measured."""
        if self.answers is None:
            return
        points = [q for q in self.result.points if q.approach == p.approach]
        latency, peak = points[-1].latency_ms_p50, max(q.peak_memory_mb for q in points)
        limit_gb = self.answers.gpu_memory_gb or self.answers.ram_gb
        if self.answers.latency_ms is not None and latency > self.answers.latency_ms:
            p.limit_reasons.append(f"measured {latency:.0f} ms per answer, over the {self.answers.latency_ms:g} ms limit")
        if peak / 1024 > limit_gb:
            p.limit_reasons.append(f"measured peak {peak / 1024:.1f} GB, over the {limit_gb:g} GB available")
        t = self.trainings.get(p.approach)
        if t and t.step_s and self.answers.budget_usd is not None and self.answers.gpu_hour_usd is not None:
            hours = t.step_s * t.full / 3600
            if hours * self.answers.gpu_hour_usd > self.answers.budget_usd:
                p.limit_reasons.append(f"training would cost about ${hours * self.answers.gpu_hour_usd:.2f}, over "
                                       f"the ${self.answers.budget_usd:g} budget")
        p.within_limits = not p.limit_reasons

    def _crossings(self, ranked: list[PilotPrediction]) -> list[str]:
        """Where a trainable approach's curve is predicted to overtake an in-context one with longer training."""
        from tunewise.eval.curves import Fit

        out = []
        for curve in (c for c in self.result.curves if c.stable):
            t = self.trainings[curve.approach]
            fit = Fit(curve.family, tuple(curve.params), None, curve.rmse, curve.holdout_error)
            target = t.full * t.batch
            for other in (p for p in ranked if p.approach not in self.trainings):
                at = crossing(fit, other.value, target, target * 100)
                if at is not None:
                    out.append(f"{curve.approach} is predicted to overtake {other.approach} after about "
                               f"{round_labels(at):,} training examples seen (steps x batch; the plan trains "
                               f"{target:,}, over {len(self.train):,} labels).")
        return out


def _device():
    from tunewise.core.device import choose_device

    return choose_device()


def run_pilot(plan: Plan, budget_s: float, answers=None, progress: Progress | None = None,
              sample_size: int | None = None, eval_source: str = "eval set") -> PilotResult:
    """Measure the plan's approaches inside `budget_s` seconds and predict each at full scale."""
    return Pilot(plan, budget_s, answers, progress, sample_size, eval_source=eval_source).run()
