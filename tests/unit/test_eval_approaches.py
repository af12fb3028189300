"""The approach registry, label matching and how plan tuning keys reach a tuning run."""
from pathlib import Path

import pytest

from tunewise.core.errors import ConfigError
from tunewise.core.schema import APPROACHES as PLAN_APPROACHES, Plan
from tunewise.eval.approaches import APPROACHES, match_label, spec_for, system_prompt, tune_config


def test_every_plan_approach_is_registered():
    assert set(PLAN_APPROACHES) == set(APPROACHES)
    assert spec_for("api-rag").needs_corpus and spec_for("qlora").gpu_only
    assert spec_for("head").tasks == ("classification",)
    with pytest.raises(ConfigError, match="unknown approach 'api-lora2'"):
        spec_for("api-lora2")


def test_free_text_maps_to_the_first_label_named():
    labels = ["refund", "freight", "lost-property"]
    assert match_label("This is about Freight, not a refund.", labels) == "freight"
    assert match_label("no idea", labels) == "no idea"


def test_classification_prompt_lists_the_labels():
    assert system_prompt("classification", ["a", "b"]).endswith("from: a, b.")


def test_tuning_keys_shared_then_per_approach():
    plan = Plan(task="classification", train="t.jsonl", eval="e.jsonl", approaches=["lora", "head"],
                tuning={"max_steps": 40, "lr": 2e-4, "head": {"lr": 5e-3}})
    head = tune_config(plan, "head", "classification", Path("out"), "sys")
    lora = tune_config(plan, "lora", "sft", Path("out"), "sys")
    assert (head.lr, head.max_steps, head.system_prompt) == (5e-3, 40, None)
    assert (lora.lr, lora.system_prompt, lora.task) == (2e-4, "sys", "sft")


def test_unknown_tuning_key_names_the_key():
    plan = Plan(task="qa", train="t.jsonl", eval="e.jsonl", approaches=["lora"], tuning={"lrr": 1})
    with pytest.raises(ConfigError, match="plan 'tuning' for lora: unknown key 'lrr'"):
        tune_config(plan, "lora", "sft", Path("out"), "sys")
