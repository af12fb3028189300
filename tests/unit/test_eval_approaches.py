"""The approach registry, label matching and how plan tuning keys reach a tuning run."""
from pathlib import Path

import pytest

from tunewise.core import registry
from tunewise.core.errors import ConfigError
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import Plan
from tunewise.eval.systems import match_label, system_prompt
from tunewise.eval.workspace import tune_config


def test_every_builtin_approach_is_registered_with_its_needs():
    assert registry.names()[:3] == ["zero-shot", "few-shot", "rag"]
    assert registry.spec("api-rag").retrieves and "gpu" in registry.spec("qlora").needs
    assert registry.spec("head").tasks == ("classification",)
    assert registry.baseline() == "zero-shot"
    with pytest.raises(ConfigError, match="unknown approach 'api-lora2'"):
        registry.spec("api-lora2")
    with pytest.raises(ConfigError, match="unknown approach 'api-lora'"):   # a tuned model has no API form
        registry.spec("api-lora")


def test_a_spec_is_validated_when_declared_and_a_name_registers_once():
    with pytest.raises(ValueError, match="unknown needs"):
        ApproachSpec(name="x", kind="in-context", needs=frozenset({"telepathy"}))
    with pytest.raises(ValueError, match="names its trainer"):
        ApproachSpec(name="x", kind="tuned")
    with pytest.raises(ValueError, match="must not start with 'api-'"):
        ApproachSpec(name="api-x", kind="in-context")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.spec("rag"), registry.builder("rag"))


def test_free_text_maps_to_the_first_label_named():
    labels = ["refund", "freight", "lost-property"]
    assert match_label("This is about Freight, not a refund.", labels) == "freight"
    assert match_label("no idea", labels) == "no idea"


def test_classification_prompt_lists_the_labels():
    assert system_prompt("classification", ["a", "b"]).endswith("from: a, b.")


def test_tuning_keys_shared_then_per_approach():
    plan = Plan(task="classification", train="t.jsonl", eval="e.jsonl", approaches=["lora", "head"],
                tuning={"max_steps": 40, "lr": 2e-4, "head": {"lr": 5e-3}})
    head = tune_config(plan, "head", Path("out"), "sys")
    lora = tune_config(plan, "lora", Path("out"), "sys")
    assert (head.lr, head.max_steps, head.system_prompt, head.task) == (5e-3, 40, None, "classification")
    assert (lora.lr, lora.system_prompt, lora.task) == (2e-4, "sys", "sft")


def test_unknown_tuning_key_names_the_key():
    from tunewise.core.schema import describe_validation_error

    with pytest.raises(ValueError) as info:
        Plan(task="qa", train="t.jsonl", eval="e.jsonl", approaches=["lora"], tuning={"lrr": 1})
    assert "unknown key 'lrr'" in describe_validation_error(info.value)
    with pytest.raises(ValueError, match="'rag' trains nothing"):
        Plan(task="qa", train="t.jsonl", eval="e.jsonl", approaches=["rag"], tuning={"rag": {"lr": 1e-4}})


def test_a_plan_file_carries_only_the_tuning_keys_it_sets():
    plan = Plan(task="qa", train="t.jsonl", eval="e.jsonl", approaches=["lora"], tuning={"head": {"lr": 5e-3}})
    assert plan.model_dump(mode="json")["tuning"] == {"head": {"lr": 5e-3}}
    assert Plan.model_validate_json(plan.model_dump_json()).tuning.for_approach("head") == {"lr": 5e-3}
