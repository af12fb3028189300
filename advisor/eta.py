"""Seconds each phase of a comparison should take (index, train, predict, drift per approach), from the
advisor's formulas, so `compare`'s overall bar is weighted by them and its time left starts from them.

Pure arithmetic like advisor/estimate.py. Only the model shapes the estimates know are weighed; for any
other model (or an API model) there is no estimate and the progress display weighs approaches equally.
"""
from __future__ import annotations

from dataclasses import dataclass

from tunewise.advisor.estimate import (
    EMBED_CHUNKS_PER_S, KNOWN_SHAPES, Hardware, Workload, answer_ms, base_passes, prompt_added, training_hours,
)
from tunewise.core import registry
from tunewise.core.reading import ReadPolicy


@dataclass(frozen=True)
class CompareSizes:
    """What the estimates need from a plan's files: the training workload and the eval sets' sizes."""

    work: Workload
    eval_examples: int
    drift_examples: int = 0


def phase_seconds(plan, names: list[str], sizes: CompareSizes, gpu_memory_gb: float = 0.0
                  ) -> dict[str, dict[str, float]] | None:
    """{approach: {phase: seconds}} for the approaches `names` of `plan`; None when the model is unknown."""
    shape = KNOWN_SHAPES.get(plan.model) if isinstance(plan.model, str) else None
    if shape is None:
        return None
    hw, work = Hardware(gpu_memory_gb=gpu_memory_gb), sizes.work
    out = {}
    for name in names:
        base, api = registry.split_api(name)
        if api:
            return None
        spec = registry.spec(base)
        answer_s = answer_ms(spec, shape, work.prompt_tokens + prompt_added(spec, work), hw, work.labels) / 1000
        phases = {"predict": answer_s * sizes.eval_examples}
        if spec.retrieves:
            phases["embed"] = work.chunks / EMBED_CHUNKS_PER_S[hw.kind]
        if spec.tuned:
            phases["train"] = training_hours(spec.trainer, shape, training_tokens(plan, base, work), hw) * 3600
        if sizes.drift_examples:
            phases["drift"] = answer_s * sizes.drift_examples
        out[name] = phases
    return out


def training_tokens(plan, name: str, work: Workload) -> float:
    """Tokens one run trains on: steps x batch x length when the plan caps the steps, else epochs of the data."""
    knobs = plan.tuning.for_approach(name)
    length = min(work.mean_tokens, knobs.get("max_seq_len", work.seq_len))
    trainer = registry.spec(name).trainer
    if trainer == "head":                        # the frozen base encodes each example once
        return work.examples * length
    if knobs.get("max_steps"):
        return knobs["max_steps"] * (knobs.get("batch_size") or work.batch) * knobs.get("grad_accum", 1) * length
    return work.examples * length * base_passes(trainer, knobs.get("epochs"))


def plan_sizes(plan, reading: ReadPolicy = ReadPolicy()) -> CompareSizes:
    """The sizes of a plan's files (the corpus read under `reading`), tokens estimated as characters / 4
    like the advisor's fast profile."""
    from tunewise.core.data import load_corpus, load_dataset

    train = load_dataset(plan.train).examples
    evaluation = load_dataset(plan.eval).examples[: plan.limit_eval]
    drift = len(load_dataset(plan.eval_next).examples) if plan.eval_next and plan.corpus_next else 0
    mean = sum(len(e.prompt) + len(e.response) for e in train) / 4 / max(len(train), 1)
    work = Workload(examples=len(train), mean_tokens=mean, seq_len=plan.tuning.max_seq_len, prompt_tokens=round(mean),
                    corpus_documents=len(load_corpus(plan.corpus, reading)) if plan.corpus else 0,
                    labels=len({e.response for e in train}) if plan.task == "classification" else 0)
    return CompareSizes(work, eval_examples=len(evaluation), drift_examples=drift)
