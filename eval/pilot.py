"""The pilot: measure every candidate of a plan cheaply, inside a wall-clock budget, and predict how each
will do at full scale.

- The pilot allows itself the smaller of the user's budget and a share of what the full `compare` of the
  same plan is estimated to cost from its own first measurements (eval/pilot_plan.py).
- In-context approaches (and their API variants, when the plan has an API model) answer a stratified sample
  of the eval set (or of a held-out slice of train). The sample starts at MIN_PER_CLASS per class, which
  also measures each approach's seconds per answer, and grows to what the budget buys.
- A trainable approach first times a few steps of the plan's own run (unless the ledger knows them):
  with the in-context answers' seconds they give the estimate of the full compare, and so the pilot's
  ceiling, before any short run is sized. It then makes complete short runs on the full data, each with
  the plan's whole schedule on fewer examples per step (shortened only below one example per step; a
  paused long run is still mid-schedule and predicts poorly), scored on the same sample; each measures
  its own seconds a step, which size the later runs. The curve (eval/curves.py) is in examples seen
  (steps x batch), the axis that differs between the pilot and the full run, and starts at the untrained
  anchor's score for tuned LMs (zero-shot, or RAG for RAG + LoRA). Without a stable fit the last run is a
  floor, which may lead, only if it rose above that start (eval/pilot_predict.py `rises`).
- An in-context approach whose build is a search (few-shot-opt) is priced at all its trials in the estimate
  of compare, and searches only its share of what the ceiling leaves, as a trainable's first run does.
- Successive halving: after each rung, approaches whose interval lies clearly below the leader's stop.
- Every prediction has a 95% interval: a bootstrap over the sample's examples (refitting the curve on
  each resample), widened by the fit's own delta-method error.
Measuring goes through the compare machinery (Workspace, the registry's builders, predict_rows), never a
second copy. Ctrl-C stops measuring and keeps what was measured; each point is appended to the ledger.

This module runs the pilot and spends its budget; the sample and the in-context answers are in
eval/pilot_sample.py, the short training runs in eval/pilot_train.py, the predictions and their
intervals in eval/pilot_predict.py, the budget arithmetic in eval/pilot_plan.py.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from tunewise.core import registry
from tunewise.core.data import Example, load_corpus, load_dataset
from tunewise.core.defaults import MAX_NEW_TOKENS
from tunewise.core.errors import ConfigError
from tunewise.core.files import app_home
from tunewise.core.ledger import Ledger, MeasuredRun
from tunewise.core.reading import ReadPolicy
from tunewise.core.schema import Plan
from tunewise.eval import pilot_plan, pilot_predict, pilot_sample, pilot_train
from tunewise.eval.checks import check_answers
from tunewise.eval.pilot_records import (
    PilotPoint, PilotPrediction, PilotResult, floor_lead_statements, rank_predictions, separation_statements,
)
from tunewise.eval.pilot_plan import EXAMPLE_SECONDS, LOAD_SECONDS
from tunewise.eval.pilot_sample import Measured
from tunewise.eval.pilot_train import Training, is_tuned, tuning_block

Progress = Callable[[str, int, int], None]


class Pilot:
    """One pilot run over a plan's approaches; `run()` returns the `PilotResult`.

    `sample_size` fixes the sample (no growth from the budget); by default it is planned. Answers are
    `max_new_tokens` long, compare's own default unless told: a pilot answering with fewer tokens than
    compare does predicts a generation score compare cannot reach.
    """

    def __init__(self, plan: Plan, budget_s: float, answers=None, progress: Progress | None = None,
                 sample_size: int | None = None, work: Path | None = None, max_new_tokens: int = MAX_NEW_TOKENS,
                 eval_source: str = "eval set", reading: ReadPolicy = ReadPolicy()):
        from tunewise.eval.runner import approach_names

        self.plan, self.budget_s, self.answers = plan, budget_s, answers
        self.reading = reading   # how the corpus is read (`tunewise --follow-links`)
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
        self.checks = check_answers(plan)    # compare's answers beyond the eval set, for its estimate
        self.index_s = 0.0
        self.peaks: dict[str, float] = {}    # approach -> peak memory (MB) while it answered
        self.unscored: set[str] = set()      # trainables whose last run is trained but not yet scored
        self.ceiling = budget_s
        self.result = PilotResult(metric=self._metric(), sample_size=len(self.sample), train_examples=len(self.train),
                                  budget_seconds=budget_s, seconds=0.0, peak_memory_mb=0.0, eval_source=eval_source)
        self._check_budget()

    def _metric(self) -> str:
        from tunewise.eval.stats import VERDICT_METRIC

        return VERDICT_METRIC[self.plan.task]

    def _order(self) -> list[Example]:
        return pilot_sample.eval_order(self.plan, len(self.train.labels))

    def minimum_seconds(self) -> float:
        return pilot_plan.minimum_seconds(len(self.sample))

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
        ws = Workspace(self.plan, self.train, corpus, self.work, self.max_new_tokens, self.progress, _device())
        searched = self._searched()
        systems = {}
        for name in (n for n in self.names if not is_tuned(n) and n not in searched):   # the minimum sample;
            if self._fits(self._answer_estimate(name, len(self.sample))):             # measures s per answer
                systems[name] = self._answer(ws, name, self.sample)
            else:
                self.result.skipped.append(f"{name}: not measured, the budget was spent")
        self.index_s = ws.index_seconds
        for name in self._trainable():                       # the plan's step time: probe steps or the ledger
            self._time_steps(ws, name)
        self._set_ceiling()
        for name in searched:                                # a search is its approach's training: capped
            system = self._search(ws, name, len(self.trainings) + len(searched))
            if system is not None:
                systems[name] = system
        for t in list(self.trainings.values()):              # the first short runs, sized to the ceiling
            self._first_run(ws, t)
        self._plan_rest()
        for name, system in systems.items():                 # the sample grows to what the budget bought
            extra = self.sample[len(self.measured.rows[name][0]):]
            if extra and self._fits(self._answer_estimate(name, len(extra))):
                self._answer(ws, name, extra, system)
            self._record_point(name, rung=0, labels=len(self.train), steps=None, seconds=0.0,
                               peak=self.peaks.get(name, 0.0))
        self.result.sample_size = len(self.sample)
        self._rungs(ws)

    def _rungs(self, ws) -> None:
        """Score every trainable's last short run, drop the clearly worse, give the rest their next run."""
        pending, rung = list(self.trainings.values()), 1
        while pending:
            for t in pending:
                self._score_run(ws, t, rung)
            self._halve()
            going = []
            for t in (t for t in pending if t.runs and t.name not in self.result.dropped):
                step = t.runs.pop(0)
                if self._admits(t, t.run_seconds(step)):
                    self._train_run(ws, t, step)
                    going.append(t)
                else:
                    self.result.skipped.append(f"{t.name} rung {rung + 1} ({step} steps): it would overrun the budget")
            pending, rung = going, rung + 1

    # -- measuring ------------------------------------------------------------------------------------

    def _answer_estimate(self, name: str, count: int) -> float:
        return pilot_sample.answer_estimate(self.measured, name, count)

    def _answer(self, ws, name: str, examples: list[Example], system=None):
        """Answer `examples` with `name` (built once), adding to its rows; returns the system."""
        system, peak = pilot_sample.answer(ws, self.measured, name, examples, system)
        self.peaks[name] = max(self.peaks.get(name, 0.0), peak)
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, round(peak, 1))
        return system

    def _time_steps(self, ws, name: str) -> None:
        """Set up `name`'s Training and know what a step of the plan's run costs: from the ledger, else by
        timing a few of its steps. A head is not probed: its whole run costs about what a short one does
        (its steps run over states its frozen base computed once, tuning/frozen.py), so the pilot makes the
        plan's own run and measures that."""
        steps, batch = pilot_train.full_run(self.plan, name, len(self.train))
        out = ws.out / "models" / tuning_block(name)
        if any(t.out == out for t in self.trainings.values()):
            self.result.skipped.append(f"{name}: shares the {tuning_block(name)} run, which is piloted once")
            return
        t = Training(name, out, steps, batch, step_s=pilot_train.known_step_seconds(ws, name))
        one = pilot_train.known_step_seconds(ws, name, batch=1) if batch > 1 else None
        if one is not None:      # a step of one example, measured here before: no FIXED_SHARE prior needed
            t.measured = (1, one)
        self.trainings[name] = t
        if t.step_s is None and registry.spec(name).trainer != "head":
            if not self._admits(t, 2 * LOAD_SECONDS):     # the probe's run may be scored as the first
                self.result.skipped.append(f"{name}: not trained, the budget was spent")
                del self.trainings[name]
                return
            peak = pilot_train.probe_steps(ws, t, self.progress)
            self.unscored.add(name)          # scored as the first run when no longer one fits
            self.result.peak_memory_mb = max(self.result.peak_memory_mb, peak)

    def _searched(self) -> list[str]:
        """In-context approaches whose build is a search (few-shot-opt): the pilot prices and caps it."""
        return [n for n in self.names if not is_tuned(n) and registry.spec(n).search_queries]

    def _search_config(self, name: str):
        """The plan's settings of `name`'s search (an API variant searches with its base approach's)."""
        return self.plan.tuning.block(registry.split_api(name)[0])

    def _search_seconds(self, name: str) -> float:
        """What `name`'s search costs compare (the plan's trials, within its `max_seconds`): per trial as
        measured here once it searched, before that its spec's queries per trial at the slowest measured
        in-context answer. Unpriced, a few-shot-opt search of 8 trials took a WordNet pilot 17% past its
        2-minute budget and left no time to train LoRA (bench/RESULTS.md)."""
        spec, cfg = registry.spec(name), self._search_config(name)
        done = self.measured.searches.get(name)
        if done and done["trials"]:
            per_trial = done["search_seconds"] / len(done["trials"])
        else:
            rate = max(self.measured.answer_s.values(), default=pilot_plan.EXAMPLE_SECONDS)
            per_trial = spec.search_queries / spec.config().trials * rate
        total = per_trial * cfg.trials
        return min(total, cfg.max_seconds) if cfg.max_seconds else total

    def _search(self, ws, name: str, sharing: int):
        """Build `name` with its search capped to its share of what the ceiling leaves (as a trainable's
        first short run is), answer the sample with the configuration it kept; None when not even one
        trial fits."""
        base, cfg = registry.split_api(name)[0], self._search_config(name)
        share = max(self.ceiling - self.elapsed, 0.0) * pilot_plan.TRAIN_SHARE / max(sharing, 1)
        one_trial = self._search_seconds(name) / cfg.trials
        if share < one_trial or not self._fits(one_trial + self._answer_estimate(name, len(self.sample))):
            self.result.skipped.append(f"{name}: not measured, its search did not fit the budget")
            return None
        cap = min(cfg.max_seconds or share, share)
        blocks = self.plan.tuning.__pydantic_extra__ or {}
        tuning = self.plan.tuning.model_copy(update={base: {**(blocks.get(base) or {}), "max_seconds": cap}})
        ws.plan = self.plan.model_copy(update={"tuning": tuning})
        try:
            system = self._answer(ws, name, self.sample)
        finally:
            ws.plan = self.plan
        trials = len(self.measured.searches.get(name, {}).get("trials", []))
        if trials < cfg.trials:
            self.result.statements.append(
                f"{name} made {trials} of its {cfg.trials} search trials inside the pilot's share ({cap:.0f}s); "
                f"compare makes them all (about {self._search_seconds(name):.0f}s here), so it may score higher "
                "than predicted.")
        return system

    def _first_run(self, ws, t: Training) -> None:
        """The first complete short run, sized to its share of what the ceiling leaves. A head makes its whole
        run within the user's budget: it costs little more than a short one, and nothing predicts it better."""
        share = max(self.ceiling - self.elapsed, 0.0) * pilot_plan.TRAIN_SHARE / max(len(self.trainings), 1)
        if registry.spec(t.name).trainer == "head":
            first = t.full
            fits = self._admits(t, t.run_seconds(t.full) if t.step_s else 0.0, hard=self.budget_s)
        else:
            first = pilot_plan.first_run(t.full, t.run_seconds, share)
            fits = self._admits(t, t.run_seconds(first))
            if t.step and (first <= t.step or not fits):
                return          # the probe's run is as long as the budget buys: it is scored as the first
        if not fits:
            self.result.skipped.append(f"{t.name}: not trained, the budget was spent")
            del self.trainings[t.name]
            return
        self._train_run(ws, t, first)

    def _trainable(self) -> list[str]:
        return [n for n in self.names if is_tuned(n)]

    def _train_run(self, ws, t: Training, steps: int) -> None:
        peak = pilot_train.train_run(ws, t, steps, self.progress)
        self.unscored.add(t.name)
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, peak)

    def _admits(self, t: Training, train_s: float, hard: float | None = None) -> bool:
        """Whether a run of `t` that trains for `train_s` fits with its scoring and the scoring still owed
        to runs already trained (within `hard` seconds in all when given, else `_fits`)."""
        seconds = train_s + self._scoring_seconds(t) + self._unscored_seconds(besides=t.name)
        return self.elapsed + seconds <= hard if hard is not None else self._fits(seconds)

    def _scoring_seconds(self, t: Training) -> float:
        """What scoring `t`'s next run on the sample costs: loading it and answering every example."""
        return t.load_s + self._answer_seconds()[t.name] * len(self.sample)

    def _unscored_seconds(self, besides: str = "") -> float:
        """The scoring still owed to runs already trained: admitting another run must leave room for it.
        Counting only the new run's training, two first runs were admitted whose scoring then took a
        2-minute pilot 24% past its budget on a shared CPU (bench/RESULTS.md)."""
        return sum(self._scoring_seconds(self.trainings[n]) for n in self.unscored - {besides} if n in self.trainings)

    def _score_run(self, ws, t: Training, rung: int) -> None:
        self.unscored.discard(t.name)
        seconds, peak = pilot_train.score_run(ws, t, self.sample, self.measured)
        self._record_point(t.name, rung, min(len(self.train), t.seen), t.shape[0], seconds, peak, t)

    def _record_point(self, name: str, rung: int, labels: int, steps: int | None, seconds: float, peak: float,
                      t: Training | None = None) -> None:
        from tunewise.eval.stats import metric_statistic, metric_value, paired_bootstrap

        rows = self.measured.rows[name][-1]
        value = metric_value(self.plan.task, rows)
        low, high, _ = paired_bootstrap(metric_statistic(self.plan.task, rows), len(rows), seed=self.plan.seed)
        latency = sorted(r["latency_ms"] for r in rows)[len(rows) // 2]
        point = PilotPoint(approach=name, rung=rung, labels=labels, steps=steps,
                           batch=None if t is None else t.shape[1],
                           examples_seen=None if t is None else t.seen,
                           step_seconds=None if t is None or t.step_s is None else round(t.step_s, 3),
                           value=round(value, 4), low=round(low, 4), high=round(high, 4),
                           seconds=round(seconds or sum(s for _, s in self.measured.batches[name]), 2),
                           peak_memory_mb=round(peak, 1), latency_ms_p50=round(latency, 2))
        self.result.points.append(point)
        self.result.peak_memory_mb = max(self.result.peak_memory_mb, point.peak_memory_mb)
        self._record(point, t)

    def _record(self, point: PilotPoint, t: Training | None) -> None:
        model = self.plan.model if isinstance(self.plan.model, str) else self.plan.model.model
        settings = {"rung": point.rung, "steps": point.steps, "sample": len(self.measured.rows[point.approach][-1])}
        if t is not None and t.step_s is not None:
            cfg = pilot_train.run_config(self.plan, t.name)
            # step_seconds: a step at the plan's batch (probe steps, the ledger or the plan's own run);
            # run_step_seconds: a step of the scored short run, at its own batch (run_batch)
            settings.update(method=cfg.method, batch_size=cfg.batch_size, max_seq_len=cfg.max_seq_len,
                            step_seconds=round(t.step_s, 4), examples_seen=point.examples_seen,
                            run_batch=point.batch)
            if t.measured is not None and t.measured[0] == point.batch:
                settings["run_step_seconds"] = round(t.measured[1], 4)
        Ledger().append_runs([MeasuredRun(
            kind="pilot", approach=point.approach, task=self.plan.task, examples=point.labels, model=model,
            settings=settings, metric=self.result.metric, metric_value=point.value, train_seconds=point.seconds,
            peak_memory_mb=point.peak_memory_mb, latency_ms_p50=point.latency_ms_p50,
            device=_device().device)])

    # -- planning -------------------------------------------------------------------------------------

    def _answer_seconds(self) -> dict[str, float]:
        """Seconds per answer of every approach: measured, else its untrained anchor's (rag+lora answers
        rag's prompts: the baseline's seconds put the QA pilot 16 s over its plan), else the baseline's."""
        measured, baseline = self.measured.answer_s, self._baseline_seconds()
        return {n: measured.get(n, measured.get(pilot_train.anchor_of(n) or "", baseline)) for n in self.names}

    def _baseline_seconds(self) -> float:
        """Seconds per answer of the untrained baseline: measured, else the slowest measured, else the prior."""
        measured = self.measured.answer_s
        return measured.get(registry.baseline(), max(measured.values(), default=EXAMPLE_SECONDS))

    def _set_ceiling(self) -> None:
        """Estimate the full compare from what has been measured so far; the pilot's ceiling is a share of it."""
        trainings = list(self.trainings.values())
        load = max([t.overhead_s for t in trainings] or [LOAD_SECONDS])
        runs = [(t.full, t.step_s or 0.0, (t.overhead_s + t.load_s) / 2) for t in trainings]
        answer = self._answer_seconds()
        estimate = (pilot_plan.compare_seconds(len(self.order), answer.values(), runs, load)
                    + self._checks_seconds(answer) + sum(self._search_seconds(n) for n in self._searched()))
        self.ceiling = min(self.budget_s, pilot_plan.PLAN_SHARE * estimate)
        self.result.compare_estimate_seconds = round(estimate, 1)
        self.result.planned_seconds = round(self.ceiling, 1)

    def _checks_seconds(self, answer: dict[str, float]) -> float:
        """What compare's drift, safety and forgetting checks add (eval/checks.py), at the measured answers."""
        specs = {n: registry.spec(n) for n in self.names}
        lm = [answer[n] for n, s in specs.items() if s.train_task == "sft"]   # the head answers no text
        retrieving = [answer[n] for n, s in specs.items() if s.retrieves]
        tuned_lms = sum(1 for n, s in specs.items() if s.tuned and s.train_task == "sft"
                        and not registry.split_api(n)[1])
        return pilot_plan.checks_seconds(self.checks, lm, retrieving, tuned_lms, self._baseline_seconds(),
                                         self.index_s)

    def _plan_rest(self) -> None:
        """From what the first short runs cost: the estimate again, the sample size, the later short runs."""
        self._set_ceiling()
        answer = self._answer_seconds()
        trainings = list(self.trainings.values())
        left = max(self.ceiling - self.elapsed, 0.0)
        growing = sum(answer[n] for n in self.measured.rows)      # the in-context approaches, per example

        def training(t: Training, runs: list[int]) -> float:
            return sum(t.run_seconds(r) + t.load_s for r in runs)

        def cost(size: int, plan: dict[str, list[int]]) -> float:
            return growing * max(size - len(self.sample), 0) + sum(
                (1 + len(plan[t.name])) * answer[t.name] * size + training(t, plan[t.name]) for t in trainings)

        share = left * pilot_plan.TRAIN_SHARE / max(len(trainings), 1)
        plan = {t.name: self._runs(t, share) for t in trainings}
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
                plan[t.name] = self._runs(t, training(t, plan[t.name]) + spare)
        while cost(size, plan) > left and any(plan.values()):   # over: drop further runs, one at a time
            longest = max(trainings, key=lambda t: len(plan[t.name]))
            plan[longest.name] = plan[longest.name][1:]
        for t in trainings:
            t.runs = plan[t.name]
        self.sample = self.order[:size]

    @staticmethod
    def _runs(t: Training, seconds: float) -> list[int]:
        return pilot_plan.plan_runs(t.step, t.full, lambda length: t.run_seconds(length) + t.load_s, seconds)

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
        return [self._prediction(name)[0] for name in self.measured.rows]

    def _prediction(self, name: str):
        return pilot_predict.predict(self.plan, self.result, self.measured, name, self.trainings.get(name),
                                     len(self.train))

    def _conclude(self) -> None:
        if not self.result.points:
            self.result.statements.append("Nothing was measured inside the budget.")
            return
        predictions = []
        for name in self.measured.rows:
            prediction, curve = self._prediction(name)
            if curve is not None:
                self.result.curves.append(curve)
            predictions.append(prediction)
        latency = {p.approach: p.latency_ms_p50 for p in self.result.points}
        for p in predictions:
            pilot_predict.apply_limits(p, self.answers, [q for q in self.result.points if q.approach == p.approach],
                                       self.trainings.get(p.approach))
        ranked = rank_predictions(predictions, latency)
        self.result.predictions = ranked
        self.result.recommendation = ranked[0].approach
        self.result.crossings = pilot_predict.crossings(self.result.curves, self.trainings, ranked, len(self.train))
        self.result.statements += floor_lead_statements(ranked) + separation_statements(ranked, len(self.sample))
        self.result.statements += pilot_predict.floor_statements(ranked, self.trainings, self.ceiling,
                                                                 self.result.compare_estimate_seconds)
        self.result.statements += pilot_predict.flat_statements(self.plan, ranked, self.measured, self.trainings)
        self.result.statements += pilot_predict.sample_statements(ranked[0], len(self.sample), len(self.order),
                                                                  self.result, self.budget_s)


def _device():
    from tunewise.core.device import choose_device

    return choose_device()


def run_pilot(plan: Plan, budget_s: float, answers=None, progress: Progress | None = None,
              sample_size: int | None = None, eval_source: str = "eval set",
              reading: ReadPolicy = ReadPolicy(), max_new_tokens: int = MAX_NEW_TOKENS) -> PilotResult:
    """Measure the plan's approaches inside `budget_s` seconds and predict each at full scale."""
    return Pilot(plan, budget_s, answers, progress, sample_size, max_new_tokens=max_new_tokens,
                 eval_source=eval_source, reading=reading).run()
