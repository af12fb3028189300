"""Bad input to `advise` and `assess`: one clear Error line naming the problem, nothing written."""
from __future__ import annotations

import json

import pytest

from tests.fakes import assert_clean_failure, invoke, write_jsonl


@pytest.fixture
def train(tmp_path):
    return write_jsonl(tmp_path / "train.jsonl", [{"text": f"t{i}", "label": "ab"[i % 2]} for i in range(4)])


@pytest.mark.parametrize("content, fragments", [
    ("task: qa\nlabeled_examples: 3\n", ("answers.yaml", "unknown key 'labeled_examples'")),
    ("task: poetry\n", ("answers.yaml", "key 'task'", "choose one of")),
    ("labelled_examples: many\n", ("answers.yaml", "key 'labelled_examples'", "expected a number")),
    ("budget_usd: -5\n", ("answers.yaml", "key 'budget_usd'", "greater than or equal to 0")),
    ("task: [qa\n", ("answers.yaml:2", "invalid YAML")),
    ("- task\n", ("answers.yaml", "expected a mapping")),
    ("", ("answers.yaml", "file is empty")),
])
def test_bad_answers_file(tmp_path, content, fragments, _isolated):
    path = tmp_path / "answers.yaml"
    path.write_text(content, encoding="utf-8")
    result = invoke(["advise", "--answers", str(path), "--plan-out", str(tmp_path / "plan.yaml")])
    assert_clean_failure(result, *fragments)
    assert not (tmp_path / "plan.yaml").exists() and not (_isolated / "answers.yaml").exists()


def test_missing_answers_file(tmp_path):
    assert_clean_failure(invoke(["advise", "--answers", str(tmp_path / "nope.yaml")]), "nope.yaml", "not found")


@pytest.mark.parametrize("flag, value, fragment", [
    ("--labelled-examples", "12.5", "whole number"), ("--task", "poetry", "choose one of"),
    ("--long-tail", "maybe", "yes or no"), ("--gpu-memory-gb", "-1", "greater than or equal to 0"),
])
def test_bad_flag_values(flag, value, fragment):
    assert_clean_failure(invoke(["advise", flag, value]), flag, fragment)


def test_existing_plan_is_not_overwritten(tmp_path, train):
    plan = tmp_path / "plan.yaml"
    plan.write_text("keep me\n", encoding="utf-8")
    result = invoke(["advise", "--task", "qa", "--data", str(train), "--eval", str(train), "--plan-out", str(plan)])
    assert_clean_failure(result, "plan.yaml already exists", "--force")
    assert plan.read_text(encoding="utf-8") == "keep me\n"


def test_plan_without_eval_set(tmp_path, train):
    result = invoke(["advise", "--task", "qa", "--data", str(train), "--plan-out", str(tmp_path / "p.yaml")])
    assert_clean_failure(result, "--plan-out needs --data", "--eval")
    assert not (tmp_path / "p.yaml").exists()


def test_broken_data_file_names_file_and_line(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label"\n', encoding="utf-8")
    assert_clean_failure(invoke(["advise", "--task", "qa", "--data", str(data)]), "d.jsonl:2", "broken JSON")
    assert_clean_failure(invoke(["assess", str(data), "--fast"]), "d.jsonl:2", "broken JSON")


@pytest.mark.parametrize("args, fragments", [
    (["assess", "{tmp}/missing.jsonl", "--fast"], ("missing.jsonl", "file not found")),
    (["assess", "{train}", "--fast", "--corpus", "{tmp}/nodocs"], ("nodocs", "corpus folder not found")),
    (["assess", "{train}", "--previous", "{tmp}"], ("--previous needs --corpus",)),
    (["assess", "{train}", "--max-seq-len", "0"], ("--max-seq-len",)),
    (["advise", "--task", "qa", "--corpus", "{train}"], ("train.jsonl", "is a file")),
])
def test_bad_assess_inputs(tmp_path, train, args, fragments):
    args = [a.format(tmp=tmp_path, train=train) for a in args]
    assert_clean_failure(invoke(args), *fragments)


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "invalid JSON"),
    (json.dumps({"method": "lora"}), "missing required key"),
    (json.dumps({"method": "lora", "model": "m", "output_dir": "o", "config": {}, "data_hash": "h", "seed": 0,
                 "versions": {}, "device": "cpu", "precision": "fp32", "total_params": 1000}),
     "neither peak_memory_mb"),
])
def test_bad_calibration_run(tmp_path, content, fragment):
    run = tmp_path / "run.json"
    run.write_text(content, encoding="utf-8")
    assert_clean_failure(invoke(["advise", "--task", "style", "--calibrate", str(run)]), "run.json", fragment)
