"""How the pilot spends its budget, as pure functions of what it has measured (no torch, no files).

- The pilot's own ceiling: a share of what the full `compare` of the same plan is estimated to cost from
  the pilot's first measurements (a pilot that costs more than a quarter of compare is not worth running).
- The sample: as many stratified eval examples as the budget left after training buys at the measured
  seconds per example of every approach that answers it, never fewer than MIN_PER_CLASS per class.
- The rungs: a trainable approach trains once on the full data with the full run's schedule and pauses at
  growing step counts (a warm-start curve); the last pause is as far as its measured seconds per step
  allow, the others are fixed fractions of it.
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
RUNG_FRACTIONS = (0.25, 0.5, 1.0)   # pauses, as fractions of the furthest step the budget reaches
HOLDOUT_FRACTION = 0.2
Z95 = 1.96
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


def plan_pauses(first: int, full: int, step_s: float, seconds: float) -> list[int]:
    """The steps at which a warm-started run pauses to be scored, after its first pause at `first`.

    The furthest pause is as far as `seconds` of training reach at `step_s` (at most `full`); the others
    sit at RUNG_FRACTIONS of it. Reaching `full` means the full run is measured, not predicted.
    """
    reach = full if step_s <= 0 else min(full, first + int(seconds // step_s))
    pauses = {max(first, round(reach * f)) for f in RUNG_FRACTIONS}
    return sorted(p for p in pauses if p > first)


def first_pause(full: int, known_step_s: float | None, seconds: float) -> int:
    """The first pause: an eighth of the run when nothing is known (it measures seconds per step), else the
    first RUNG_FRACTION of what the known step time reaches in `seconds`."""
    if known_step_s:
        reach = min(full, int(seconds // known_step_s))
        return max(1, min(full, round(reach * RUNG_FRACTIONS[0])))
    return max(1, min(full, math.ceil(full / 8)))


def compare_seconds(eval_size: int, answer_s: Iterable[float], trainables: Iterable[tuple[int, float, float]],
                    load_s: float) -> float:
    """What the full compare would take: every approach answers the eval set (`answer_s` per example each),
    each trainable trains `steps` at `step_s` and loads the model twice (train, answer): (steps, step_s, load_s)."""
    answering = eval_size * sum(answer_s)
    training = sum(steps * step_s + 2 * load for steps, step_s, load in trainables)
    return load_s + answering + training


def step_seconds_from_ledger(runs: Sequence, model: str, method: str, batch: int | None, seq_len: int | None,
                             device: str | None = None) -> float | None:
    """The median measured seconds per step of `method` on `model` at this batch and length (tune rows of
    completed runs, and the pilot's own rows), or None when the ledger holds none."""
    found = []
    for run in runs:
        s = run.settings
        if run.model != model or (device and run.device and run.device != device):
            continue
        if run.kind == "tune" and run.approach == method and s.get("steps") and run.train_seconds:
            if s.get("batch_size") == batch and s.get("max_seq_len") in (None, seq_len):
                found.append(run.train_seconds / s["steps"])
        elif run.kind == "pilot" and s.get("method") == method and s.get("step_seconds"):
            if s.get("batch_size") == batch and s.get("max_seq_len") in (None, seq_len):
                found.append(s["step_seconds"])
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
