"""How the pilot spends its budget, as pure functions of what it has measured (no torch, no files).

- The pilot's own ceiling: a share of what the full `compare` of the same plan is estimated to cost from
  the pilot's first measurements (a pilot that costs more than a quarter of compare is not worth running).
- The sample: as many stratified eval examples as the budget left after training buys at the measured
  seconds per example of every approach that answers it, never fewer than MIN_PER_CLASS per class.
- The rungs: a trainable approach makes complete short runs on the full data, a first one and then one as
  long as the measured step times allow. A run's length is counted in the plan's steps (it sees length x
  batch examples); it keeps the plan's whole schedule on fewer examples per step, and only below one
  example per step shortens the schedule (`run_shape`). What a step costs is measured, not modelled: at
  the plan's own batch by a few probe steps (or the ledger), at a short run's batch by that run
  (`step_cost`).
- A held-out slice of train stands in for the eval set when there is none.
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

PILOT_SHARE = 0.25          # the pilot may cost at most this share of the full compare (issue 11)
PLAN_SHARE = 0.2            # what it plans for: the rest is margin for estimates that run over
TRAIN_SHARE = 0.5           # of the planned time, what training may take before the sample grows
MIN_PER_CLASS = 3           # fewer per class and one mistake moves a class's F1 by a third
MIN_SAMPLE = 8              # generation / QA: the smallest sample worth an interval
FIRST_FRACTION = 0.25       # the first short run, as a fraction of what a known step time reaches
MIN_GROWTH = 1.5            # a further short run shorter than this multiple of the first adds little
HOLDOUT_FRACTION = 0.2
Z95 = 1.96
FIXED_SHARE = 0.2           # before a short run has measured its own steps: the share of a plan step that
                            # fewer examples a step do not save (LoRA on the bundled model, bf16 on a 2-core
                            # CPU: a step of 1 example took 0.65 s, of 8 examples 2.2 s; a GPU saves less)
LOAD_SECONDS = 10.0         # loading the bundled 135M model and tokenizer on this CPU, measured
EXAMPLE_SECONDS = 0.6       # one zero-shot answer of the bundled model on this CPU, measured


@dataclass(frozen=True)
class SamplePlan:
    size: int
    minimum: int
    limited_by: str             # "budget", "eval set" or "minimum"

    def statement(self, eval_size: int) -> str | None:
        if self.limited_by == "minimum":
            return (f"The budget only paid for the minimum sample of {self.size} eval examples (of {eval_size}): "
                    "the in-context predictions carry its full sampling error.")
        return None


def minimum_sample(classes: int, eval_size: int) -> int:
    """The least sample worth measuring: MIN_PER_CLASS per class (classification), else MIN_SAMPLE."""
    wanted = classes * MIN_PER_CLASS if classes else MIN_SAMPLE
    return max(1, min(wanted, eval_size))


def minimum_seconds(sample_size: int) -> float:
    """The least a pilot can take: loading the model and answering the minimum sample once."""
    return LOAD_SECONDS + EXAMPLE_SECONDS * sample_size


def expected_seconds(budget_s: float, compare_s: float, minimum_s: float) -> float:
    """About how long a pilot will take, known before it runs: the PLAN_SHARE of the full compare it plans
    for, at least its minimum, within the budget."""
    return min(budget_s, max(minimum_s, PLAN_SHARE * compare_s))


def plan_sample(seconds: float, per_example_s: float, eval_size: int, minimum: int) -> SamplePlan:
    """The sample `seconds` buy when every answer of every approach on it costs `per_example_s` in all."""
    affordable = int(seconds // per_example_s) if per_example_s > 0 else eval_size
    if affordable >= eval_size:
        return SamplePlan(eval_size, minimum, "eval set")
    if affordable <= minimum:
        return SamplePlan(minimum, minimum, "minimum")
    return SamplePlan(affordable, minimum, "budget")


def step_cost(batch: int, plan_batch: int, plan_step_s: float, measured: tuple[int, float] | None = None) -> float:
    """Seconds an optimizer step of `batch` examples takes: `plan_step_s` at the plan's own batch (measured
    by probe steps or known from the ledger); at a short run's batch what that run measured (`measured`:
    its batch and seconds a step); between the two a straight line; before any short run, the prior that
    FIXED_SHARE of a step does not shrink with the batch.

    Scaling the plan's step by the batch alone misses that fixed part: on a 2-core CPU one example a step
    cost 0.65 s where an eighth of an 8-example step would be 0.28 s, and on a GPU a step of 1 costs about
    what a step of 8 does."""
    if batch == plan_batch:
        return plan_step_s
    if measured is not None and measured[0] == batch:
        return measured[1]
    if measured is not None and measured[0] != plan_batch:
        (b0, s0), (b1, s1) = sorted([measured, (plan_batch, plan_step_s)])
        return max(s0 + (s1 - s0) * (batch - b0) / (b1 - b0), FIXED_SHARE * min(s0, s1))
    return plan_step_s * (FIXED_SHARE + (1 - FIXED_SHARE) * batch / plan_batch)


def longest_run(full: int, cost, seconds: float) -> int:
    """The longest run (in the plan's steps, at most `full`) whose `cost(length)` fits in `seconds`; 0 if none.
    A run's cost only grows with its length (`run_shape`), so the first that does not fit ends the search."""
    best = 0
    for length in range(1, full + 1):
        if cost(length) > seconds:
            break
        best = length
    return best


def plan_runs(first: int, full: int, cost, seconds: float) -> list[int]:
    """The complete short run a trainable approach makes after its first one (`first` of the plan's steps),
    if any.

    Each run trains from scratch on all the data with the plan's schedule, so it costs `cost(length)` in all
    (its steps at its batch, loading and saving): the one run `seconds` buy is as long as they reach (at
    most `full`, which measures the plan's run instead of predicting it), and is worth making only when it
    is clearly longer than the first.
    """
    length = longest_run(full, cost, seconds)
    return [length] if length >= max(first * MIN_GROWTH, first + 1) else []


def run_shape(length: int, full: int, batch: int) -> tuple[int, int]:
    """(optimizer steps, examples per step) of a short run worth `length` of the plan's `full` steps at
    `batch` examples each (it sees about length x batch examples): the plan's whole schedule on fewer
    examples per step while that leaves at least one, else that many steps of one example each.

    At these sizes the schedule's length decides more than the examples per step: on the ticket demo
    (LoRA, 40 steps at batch 8, fp32 on a 2-core CPU, 45 eval messages) the plan's run scored 0.911, its
    40 steps at batch 2 also 0.911 and at batch 4 0.844, where a complete 5-step run at batch 8 had
    scored 0.31 (bench/RESULTS.md)."""
    if length >= full:
        return full, batch
    seen = length * batch
    if seen >= full:
        return full, seen // full
    return max(seen, 1), 1


def first_run(full: int, cost, seconds: float) -> int:
    """The first short run: FIRST_FRACTION of what `seconds` reach at `cost(length)`, at least one of the
    plan's steps; an eighth of the plan when nothing is known of its cost (`cost` None)."""
    if cost is None:
        return max(1, min(full, math.ceil(full / 8)))
    return max(1, min(full, round(longest_run(full, cost, seconds) * FIRST_FRACTION)))


def compare_seconds(eval_size: int, answer_s: Iterable[float], trainables: Iterable[tuple[int, float, float]],
                    load_s: float) -> float:
    """What the full compare would take: every approach answers the eval set (`answer_s` per example each),
    each trainable trains `steps` at `step_s` and loads the model twice (train, answer): (steps, step_s, load_s)."""
    answering = eval_size * sum(answer_s)
    training = sum(steps * step_s + 2 * load for steps, step_s, load in trainables)
    return load_s + answering + training


def checks_seconds(answers: dict[str, int], lm_s: Sequence[float], retrieving_s: Sequence[float], tuned_lms: int,
                   probe_s: float, index_s: float) -> float:
    """What compare spends beyond answering the eval set and training (`answers`: eval/checks.py
    `check_answers`): every LM approach (`lm_s`, seconds per answer each) answers the drift questions,
    every retrieving one (`retrieving_s`) the planted-instruction questions, each over an index updated
    once (at most `index_s`, what building it took); the base model and each tuned LM answer the probes at
    about `probe_s` each (a baseline answer). Left out, they put the pilot's estimate of the built-in QA
    plan's compare 47% short (bench/RESULTS.md)."""
    drift = answers["drift"] * sum(lm_s) + (index_s if answers["drift"] and retrieving_s else 0.0)
    injection = answers["injection"] * sum(retrieving_s) + (index_s if answers["injection"] and retrieving_s else 0.0)
    probes = (tuned_lms + 1) * answers["probes"] * probe_s if tuned_lms else 0.0
    return drift + injection + probes


def step_seconds_from_ledger(runs: Sequence, model: str, method: str, batch: int | None, seq_len: int | None,
                             device: str | None = None) -> float | None:
    """The median measured seconds per step of `method` on `model` at this batch and length (tune rows of
    completed runs, and the pilot's own rows: their plan-batch step, and the step of the short run they
    scored at its own batch), or None when the ledger holds none."""
    found = []
    for run in runs:
        s = run.settings
        if run.model != model or (device and run.device and run.device != device):
            continue
        if run.kind == "tune" and run.approach == method and s.get("steps") and run.train_seconds:
            if s.get("batch_size") == batch and s.get("max_seq_len") in (None, seq_len):
                found.append(run.train_seconds / s["steps"])
        elif run.kind == "pilot" and s.get("method") == method and s.get("max_seq_len") in (None, seq_len):
            if s.get("batch_size") == batch and s.get("step_seconds"):
                found.append(s["step_seconds"])
            elif s.get("run_batch") == batch and s.get("run_step_seconds"):
                found.append(s["run_step_seconds"])
    return statistics.median(found) if found else None


def detectable_difference(size: int, value: float) -> float:
    """The smallest difference between two approaches near `value` that `size` paired examples separate at
    95% (independent errors: the conservative case)."""
    p = min(max(value, 0.05), 0.95)
    return Z95 * math.sqrt(2 * p * (1 - p) / max(size, 1))


def sampling_error(size: int, population: int, value: float) -> float:
    """One standard error of a score measured on `size` of `population` eval examples, as a stand-in for
    the score on all of them (finite-population correction)."""
    p = min(max(value, 0.05), 0.95)
    return math.sqrt(p * (1 - p) / max(size, 1) * max(0.0, 1 - size / max(population, 1)))


def holdout_split(examples: Sequence, seed: int, by_label: bool, classes: int = 0,
                  fraction: float = HOLDOUT_FRACTION) -> tuple[list, list]:
    """(rest, held out): a stratified `fraction` of the examples (at least MIN_PER_CLASS per class where
    the data allows), and what is left to train on, each in the data's order."""
    rng = random.Random(seed)
    groups: dict[str, list] = {}
    for e in examples:
        groups.setdefault(e.response if by_label else "", []).append(e)
    held = set()
    for label in sorted(groups):
        group = list(groups[label])
        rng.shuffle(group)
        want = max(round(len(group) * fraction), MIN_PER_CLASS if by_label else 1)
        held.update(e.id for e in group[: min(want, len(group) - 1)])   # every class keeps a training example
    return [e for e in examples if e.id not in held], [e for e in examples if e.id in held]
