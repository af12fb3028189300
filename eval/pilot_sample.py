"""What the pilot answers on, and the in-context answers themselves.

- The sample: every eval example (or every example of a held-out slice of train) in a stratified order,
  so the sample can grow by taking a longer prefix of the same order.
- The in-context approaches answer it through the compare machinery (the registry's builders and
  predict_rows), which also measures each approach's seconds per answer.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.core import registry
from tunewise.core.data import Example, load_dataset
from tunewise.core.errors import DataError
from tunewise.core.schema import Plan
from tunewise.eval import pilot_plan
from tunewise.eval.pilot_plan import EXAMPLE_SECONDS


@dataclass
class Measured:
    rows: dict[str, list[list[dict]]] = field(default_factory=dict)   # approach -> rows per rung
    x: dict[str, list[int]] = field(default_factory=dict)             # approach -> examples seen per rung
    answer_s: dict[str, float] = field(default_factory=dict)          # approach -> seconds per answer
    batches: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # approach -> (size, seconds)
    searches: dict[str, dict] = field(default_factory=dict)            # approach -> its build's `search` record

    def time_answers(self, name: str, timings: list[tuple[int, float]], fresh: bool = False) -> None:
        """Add `name`'s batch timings (a trained model's `fresh` ones replace its earlier run's) and set its
        seconds per answer as `compare` pays it over a whole eval set: from the batches after the first
        (which carries one-time work: kernel set-up, the few-shot selector's first embeddings) and, of
        those, the full ones where there are any. Compare answers in batches of PREDICT_BATCH and a
        batch's decoding costs about the same however few it holds: the pilot's partial batches (a sample
        of 27 is 8 + 8 + 8 + 3) priced per answer put the estimate of a generation compare 49% over, and
        the first batch priced like the rest put a classification compare's 41% over (bench/RESULTS.md,
        WordNet)."""
        from tunewise.eval.runner import PREDICT_BATCH

        kept = timings if fresh else self.batches.get(name, []) + timings
        self.batches[name] = kept
        kept = kept[1:] or kept
        full = [s for n, s in kept if n == PREDICT_BATCH]
        self.answer_s[name] = (sum(full) / (len(full) * PREDICT_BATCH) if full
                               else sum(s for _, s in kept) / max(sum(n for n, _ in kept), 1))


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


def eval_order(plan: Plan, classes: int) -> list[Example]:
    """The plan's eval set (up to its limit) in stratified order; a classification eval set needs at least
    one example per class."""
    evaluation = list(load_dataset(plan.eval).examples[: plan.limit_eval])
    if plan.task == "classification" and len(evaluation) < classes:
        raise DataError(plan.eval, f"the eval set has {len(evaluation)} examples, fewer than the "
                                   f"{classes} classes; the pilot needs at least one per class")
    return stratified_order(evaluation, plan.seed, plan.task == "classification")


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


def answer_estimate(measured: Measured, name: str, count: int) -> float:
    """Seconds for `name` to answer `count` examples: measured, else a prior (longer prompts cost 3x)."""
    per = measured.answer_s.get(name)
    if per is None:
        per = EXAMPLE_SECONDS * (3 if registry.spec(name).prompt_extra != "none" else 1)
    return per * count


def answer(ws, measured: Measured, name: str, examples: list[Example], system=None):
    """Answer `examples` with `name` (built once), adding to its rows and measuring its seconds per answer;
    returns the system and the peak memory (MB) it took."""
    from tunewise.eval.runner import PeakMemory, predict_rows
    from tunewise.eval.workspace import build_approach

    with PeakMemory() as memory:
        if system is None:
            built = build_approach(ws, name)
            system = built.system
            if "search" in built.extra:
                measured.searches[name] = built.extra["search"]
        timings: list[tuple[int, float]] = []
        rows = predict_rows(ws, f"pilot {name}", system, examples, timings=timings)
    measured.time_answers(name, timings)
    if name in measured.rows:
        measured.rows[name][0] += rows
    else:
        measured.rows[name], measured.x[name] = [rows], [0]
    return system, memory.peak_mb
