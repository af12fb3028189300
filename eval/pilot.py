"""The pilot: measure every candidate of a plan cheaply, inside a wall-clock budget, and predict how each
will do at full scale.

- In-context approaches answer a stratified sample of the eval set once.
- Trainable approaches train at growing fractions of the labelled data (steps scaled with the data, so
  every rung sees the plan's number of epochs), each scored on the same sample; a learning curve
  (eval/curves.py) extrapolates to the full data. Tuned LMs start from the zero-shot score at 0 labels.
- Successive halving: after each rung, approaches whose interval lies clearly below the leader's stop.
- Every prediction has a 95% interval: a bootstrap over the sample's examples (refitting the curve on
  each resample), widened by the fit's own delta-method error.
Measuring goes through the compare machinery (Workspace, the registry's builders, predict_rows), never a
second copy.
Ctrl-C stops measuring and keeps what was measured; each point is appended to the ledger on its own.
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
from tunewise.core.reading import ReadPolicy
from tunewise.core.schema import Plan, PlanTuning
from tunewise.eval.curves import crossing, fit_curve, stable_at
from tunewise.eval.pilot_records import (
    CurveFit, PilotPoint, PilotPrediction, PilotResult, rank_predictions, round_labels, separation_statements,
)

RUNG_FRACTIONS = (1 / 16, 1 / 8, 1 / 4)
SAMPLE_SIZE = 10
LOAD_SECONDS = 10.0         # loading the bundled 135M model and tokenizer on this CPU, measured
EXAMPLE_SECONDS = 0.6       # one zero-shot answer of the bundled model on this CPU, measured
CURVE_RESAMPLES = 99
Progress = Callable[[str, int, int], None]


@dataclass
class Measured:
    rows: dict[str, list[list[dict]]] = field(default_factory=dict)   # approach -> rows per rung
    x: dict[str, list[int]] = field(default_factory=dict)             # approach -> labels per rung


def stratified(examples: list[Example], size: int, seed: int, by_label: bool) -> list[Example]:
    """`size` examples, each label as evenly represented as the size allows (round-robin over labels)."""
    rng = random.Random(seed)
    groups: dict[str, list[Example]] = {}
    for e in examples:
        groups.setdefault(e.response if by_label else "", []).append(e)
    for group in groups.values():
        rng.shuffle(group)
    picked: list[Example] = []
    while len(picked) < min(size, len(examples)):
        for label in sorted(groups):
            if groups[label] and len(picked) < size:
                picked.append(groups[label].pop())
    order = {e.id: i for i, e in enumerate(examples)}
    return sorted(picked, key=lambda e: order[e.id])


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


def full_steps(plan: Plan, name: str, train_size: int) -> int:
    """The optimizer steps `compare` would train `name` for: max_steps, or epochs over the whole set."""
    from tunewise.eval.workspace import tune_config
    from tunewise.tuning.config import METHOD_DEFAULTS

    cfg = tune_config(plan, tuning_block(name), Path("."), "")
    if cfg.max_steps:
        return cfg.max_steps
    defaults = METHOD_DEFAULTS[cfg.method]
    batch = (cfg.batch_size or defaults["batch_size"]) * cfg.grad_accum
    return max(1, math.ceil(train_size / batch) * math.ceil(cfg.epochs or defaults["epochs"]))


class Pilot:
    """One pilot run over a plan's approaches; `run()` returns the `PilotResult`."""

    def __init__(self, plan: Plan, budget_s: float, answers=None, progress: Progress | None = None,
                 sample_size: int = SAMPLE_SIZE, work: Path | None = None, max_new_tokens: int = 16,
                 reading: ReadPolicy = ReadPolicy()):
        self.plan, self.budget_s, self.answers = plan, budget_s, answers
        self.reading = reading   # how the corpus is read (`tunewise --follow-links`)
        self.report = progress or (lambda stage, done, total: None)
        self.started = time.monotonic()
        self.train = load_dataset(plan.train)
        self.sample = self._sample(sample_size)
        self.work = work
        self.max_new_tokens = max_new_tokens
        self.measured = Measured()
        self.result = PilotResult(metric=self._metric(), sample_size=len(self.sample), train_examples=len(self.train),
                                  budget_seconds=budget_s, seconds=0.0, peak_memory_mb=0.0)
        self._check_budget()

    def _metric(self) -> str:
        from tunewise.eval.stats import VERDICT_METRIC

        return VERDICT_METRIC[self.plan.task]

    def _sample(self, size: int) -> list[Example]:
        evaluation = list(load_dataset(self.plan.eval).examples[: self.plan.limit_eval])
        if self.plan.task == "classification":
            classes = len(self.train.labels)
            if len(evaluation) < classes:
                raise DataError(self.plan.eval, f"the eval set has {len(evaluation)} examples, fewer than the "
                                                f"{classes} classes; the pilot needs at least one per class")
            size = max(size, classes)
        return stratified(evaluation, size, self.plan.seed, self.plan.task == "classification")

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

        corpus = load_corpus(self.plan.corpus, self.reading) if self.plan.corpus else None
        base = Workspace(self.plan, self.train, corpus, self.work / "base", self.max_new_tokens, self.progress,
                         _device())
        trainable = [n for n in self.plan.approaches if is_tuned(n)]
        for name in [n for n in self.plan.approaches if not is_tuned(n)]:
            if not self._fits(self._estimate_seconds(name, None)):
                self.result.skipped.append(f"{name}: not measured, the budget was spent")
                continue
            self._score(base, name, rung=0, labels=len(self.train), steps=None)
        for rung, fraction in enumerate(RUNG_FRACTIONS):
            alive = [n for n in trainable if n not in self.result.dropped]
            if not alive:
                break
            ws = self._rung_workspace(rung, fraction, alive, corpus)
            for name in alive:
                steps = ws.plan.tuning.for_approach(tuning_block(name))["max_steps"]
                if not self._fits(self._estimate_seconds(name, steps)):
                    self.result.skipped.append(f"{name} rung {rung + 1} ({len(ws.train)} labels): it would overrun "
                                               "the budget")
                    continue
                self._score(ws, name, rung=rung + 1, labels=len(ws.train), steps=steps)
            self._halve()

    def _rung_workspace(self, rung: int, fraction: float, names: list[str], corpus):
        from tunewise.eval.workspace import Workspace

        classification = self.plan.task == "classification"
        size = max(round(len(self.train) * fraction), len(self.train.labels) if classification else 2)
        subset = stratified(list(self.train.examples), size, self.plan.seed + rung, classification)
        folder = self.work / f"rung-{rung + 1}"
        path = write_subset(subset, folder / "train.jsonl", self.plan.task)
        tuning = self.plan.tuning.model_dump(mode="json", exclude_unset=True)
        for name in names:
            steps = max(1, round(full_steps(self.plan, name, len(self.train)) * fraction))
            tuning[tuning_block(name)] = {**tuning.get(tuning_block(name), {}), "max_steps": steps}
        plan = self.plan.model_copy(update={"train": path, "tuning": PlanTuning.model_validate(tuning)})
        return Workspace(plan, load_dataset(path), corpus, folder, self.max_new_tokens, self.progress, _device())

    def _fits(self, seconds: float) -> bool:
        return self.elapsed + seconds <= self.budget_s

    def _estimate_seconds(self, name: str, steps: int | None) -> float:
        """From this pilot's own measurements where it has them, else the per-example constant."""
        answer = EXAMPLE_SECONDS * len(self.sample) * (3 if name in ("few-shot", "rag") else 1)
        earlier = [p for p in self.result.points if p.approach == name and p.steps]
        if steps and earlier:
            last = earlier[-1]
            return last.seconds * steps / last.steps
        return answer + (LOAD_SECONDS if steps else 0.0)

    def _score(self, ws, name: str, rung: int, labels: int, steps: int | None) -> None:
        from tunewise.eval.runner import PeakMemory, predict_rows
        from tunewise.eval.stats import metric_value, metric_statistic, paired_bootstrap

        started = time.monotonic()
        with PeakMemory() as memory:
            built = registry.builder(name)(ws)
            rows = predict_rows(ws, f"pilot {name}", built.system, self.sample)
        seconds = time.monotonic() - started
        value = metric_value(self.plan.task, rows)
        low, high, _ = paired_bootstrap(metric_statistic(self.plan.task, rows), len(rows), seed=self.plan.seed)
        latency = sorted(r["latency_ms"] for r in rows)[len(rows) // 2]
        point = PilotPoint(approach=name, rung=rung, labels=labels, steps=steps, value=round(value, 4),
                           low=round(low, 4), high=round(high, 4), seconds=round(seconds, 2),
                           peak_memory_mb=round(max(memory.peak_mb, built.peak_memory_mb or 0.0), 1),
                           latency_ms_p50=round(latency, 2))
        self.result.points.append(point)
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, point.peak_memory_mb)
        self.measured.rows.setdefault(name, []).append(rows)
        self.measured.x.setdefault(name, []).append(labels)
        self._record(point)

    def _record(self, point: PilotPoint) -> None:
        model = self.plan.model if isinstance(self.plan.model, str) else self.plan.model.model
        Ledger().append_runs([MeasuredRun(
            kind="pilot", approach=point.approach, task=self.plan.task, examples=point.labels, model=model,
            settings={"rung": point.rung, "steps": point.steps, "sample": len(self.sample)},
            metric=self.result.metric, metric_value=point.value, train_seconds=point.seconds,
            peak_memory_mb=point.peak_memory_mb, latency_ms_p50=point.latency_ms_p50)])

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
        anchor = anchor_of(name)
        xs, rows = list(self.measured.x[name]), list(self.measured.rows[name])
        if anchor in self.measured.rows:
            xs, rows = [0] + xs, [self.measured.rows[anchor][0]] + rows
        return xs, rows

    def _prediction(self, name: str, keep_curve: bool = False) -> PilotPrediction:
        from tunewise.eval.stats import metric_value

        target = len(self.train)
        last = next(p for p in reversed(self.result.points) if p.approach == name)
        if not is_tuned(name):
            return PilotPrediction(approach=name, metric=self.result.metric, value=last.value, low=last.low,
                                   high=last.high, basis="measured", at_labels=target)
        xs, rows = self._points(name)
        ys = [metric_value(self.plan.task, r) for r in rows]
        fit = fit_curve(xs, ys)
        stable = stable_at(fit, xs, ys, target)
        if keep_curve and fit is not None:
            self.result.curves.append(CurveFit(approach=name, family=fit.family, params=[round(p, 6) for p in fit.params],
                                               rmse=round(fit.rmse, 4), stable=stable,
                                               holdout_error=None if fit.holdout_error is None else round(fit.holdout_error, 4)))
        if not stable:
            return PilotPrediction(approach=name, metric=self.result.metric, value=last.value, low=last.low,
                                   high=last.high, basis="last-point", at_labels=target)
        value = min(1.0, max(0.0, fit.predict(target)))
        low, high = self._curve_interval(fit, xs, rows, target, value)
        return PilotPrediction(approach=name, metric=self.result.metric, value=round(value, 4), low=round(low, 4),
                               high=round(high, 4), basis="curve", at_labels=target)

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
            boot = stats.bootstrap((np.arange(len(self.sample)),), refit, vectorized=False, paired=True,
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
        steps = [q for q in points if q.steps]
        if steps and self.answers.budget_usd is not None and self.answers.gpu_hour_usd is not None:
            hours = steps[-1].seconds / steps[-1].steps * full_steps(self.plan, p.approach, len(self.train)) / 3600
            if hours * self.answers.gpu_hour_usd > self.answers.budget_usd:
                p.limit_reasons.append(f"training would cost about ${hours * self.answers.gpu_hour_usd:.2f}, over "
                                       f"the ${self.answers.budget_usd:g} budget")
        p.within_limits = not p.limit_reasons

    def _crossings(self, ranked: list[PilotPrediction]) -> list[str]:
        """Where a trainable approach's curve is predicted to overtake an in-context one with more labels."""
        out = []
        target = len(self.train)
        fits = {c.approach: c for c in self.result.curves if c.stable}
        for curve in fits.values():
            from tunewise.eval.curves import Fit

            fit = Fit(curve.family, tuple(curve.params), None, curve.rmse, curve.holdout_error)
            for other in (p for p in ranked if p.basis == "measured"):
                at = crossing(fit, other.value, target, target * 100)
                if at is not None:
                    out.append(f"{curve.approach} is predicted to overtake {other.approach} at about "
                               f"{round_labels(at):,} labels (it has {target:,} now).")
        return out


def _device():
    from tunewise.core.device import choose_device

    return choose_device()


def run_pilot(plan: Plan, budget_s: float, answers=None, progress: Progress | None = None,
              sample_size: int = SAMPLE_SIZE, reading: ReadPolicy = ReadPolicy()) -> PilotResult:
    """Measure the plan's approaches inside `budget_s` seconds and predict each at full scale."""
    return Pilot(plan, budget_s, answers, progress, sample_size, reading=reading).run()
