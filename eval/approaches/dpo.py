"""dpo in compare: a LoRA adapter preference-tuned (tuning/dpo.py) on the plan's `preferences` pairs,
with the shared system prompt, then prompted like every other tuned model.

A quarter of the pairs (seeded, at least one) is held out: the approach's `preference` record gives the
implicit-reward accuracy (the tuned model ranks chosen above rejected, relative to the base) and the DPO
loss on the training and the held-out pairs, before and after training. The task metrics come from the
plan's eval set, like every approach's.
"""
from __future__ import annotations

import json
from pathlib import Path

from tunewise.core.errors import ConfigError
from tunewise.core.files import atomic_write_text, read_json
from tunewise.core.preference import PreferencePair, load_preferences, split_pairs
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import Plan, TrainingKnobs, TrainingRun

NAME = "dpo"
HELD_OUT = 0.25


def check_plan(plan: Plan) -> None:
    """Before anything is written: the plan names a preference file that loads, and valid tuning keys."""
    if plan.preferences is None:
        raise ConfigError("approach 'dpo' needs a 'preferences' file in the plan (prompt, chosen, rejected)")
    if len(load_preferences(plan.preferences)) < 2:
        raise ConfigError(f"{plan.preferences}: dpo needs at least 2 preference pairs (one is held out)")
    from tunewise.eval.workspace import tune_config

    tune_config(plan, NAME, Path("."), "")


SPEC = ApproachSpec(
    name=NAME, kind="tuned", needs=frozenset({"preferences", "weights"}), trainer="dpo",
    traits=frozenset({"learns-preferences"}), config=TrainingKnobs, check=check_plan,
    summary="dpo tunes a LoRA adapter on pairs of a preferred and a rejected reply (behaviour and tone).",
)


def _write_pairs(path: Path, pairs: list[PreferencePair]) -> Path:
    rows = [{"id": p.id, "prompt": list(p.prompt), "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def train_dpo(ws) -> TrainingRun:
    """Train once into OUT/models/dpo on the held-in pairs, scored on the held-out ones; reused on resume."""
    from tunewise.eval.workspace import tune_config
    from tunewise.tuning import run_tuning

    out = ws.out / "models" / NAME
    if (out / "run.json").is_file():
        return TrainingRun.load(out / "run.json")
    train, held = split_pairs(load_preferences(ws.plan.preferences), HELD_OUT, ws.plan.seed)
    folder = ws.out / "preferences"
    config = tune_config(ws.plan, NAME, out, ws.system).model_copy(update={
        "train": _write_pairs(folder / "train.jsonl", train), "eval": _write_pairs(folder / "held-out.jsonl", held)})
    report = lambda p: ws.progress(f"{NAME}: train", p.step, p.total)  # noqa: E731
    return run_tuning(config, report)


def build(ws):
    run = train_dpo(ws)
    folder = ws.out / "models" / NAME
    generator = ws.tuned_generator(NAME)
    built = ws.prompted(generator, ws.plain_messages)
    built.tuned_generator = generator
    built.extra["preference"] = read_json(folder / "preference.json")
    built.notes.append("dpo trains on the plan's preference pairs, not on its labelled examples; its preference "
                       "accuracy is measured on held-out pairs")
    return built.add_run(run)
