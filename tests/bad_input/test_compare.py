"""Bad plans for `tunewise compare`: one clear Error line naming the problem, and nothing written."""
import pytest
import yaml

from tests.component.test_eval_runner import write_plan
from tests.fakes import assert_clean_failure, invoke


@pytest.fixture
def plan_file(tmp_path):
    """A valid classification plan whose keys each test breaks; no model is ever loaded."""
    return write_plan(tmp_path, tmp_path / "unused-model", task="classification", approaches=["zero-shot"])


def rewrite(path, **changes):
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data))
    return path


def run(plan, tmp_path, *extra):
    out = tmp_path / "out"
    result = invoke(["compare", str(plan), *extra, "--out", str(out)])
    assert not out.exists(), "nothing may be written for a bad plan"
    return result


@pytest.mark.parametrize("changes, fragments", [
    ({"approaches": ["zero-shot", "magic"]}, ("approaches", "unknown approach 'magic'")),
    ({"train": "missing.jsonl"}, ("missing.jsonl", "file not found")),
    ({"lrr": 1}, ("unknown key 'lrr'",)),
    ({"task": "translation"}, ("key 'task'",)),
    ({"approaches": ["rag"]}, ("approach 'rag' needs a 'corpus'",)),
    ({"approaches": ["qlora"]}, ("qlora", "needs a CUDA GPU")),
    ({"approaches": ["lora"], "tuning": {"lora": {"lr": -1}}}, ("tuning.lora.lr", "greater than 0")),
    ({"task": "qa"}, ("cls-train.jsonl", "task 'qa'")),
    ({"limit_eval": 0}, ("limit_eval",)),
    ({"corpus": "nowhere"}, ("nowhere", "corpus folder not found")),
])
def test_bad_plan_keys(plan_file, tmp_path, changes, fragments):
    assert_clean_failure(run(rewrite(plan_file, **changes), tmp_path), *fragments)


def test_head_on_a_qa_task(tiny_model, tmp_path):
    plan = write_plan(tmp_path, tiny_model, task="qa", approaches=["head"])
    assert_clean_failure(run(plan, tmp_path), "approach 'head' does not apply to task 'qa'")


def test_eval_label_unknown_to_training(plan_file, tmp_path):
    (tmp_path / "cls-eval.jsonl").write_text('{"text": "hi", "label": "weather"}\n')
    assert_clean_failure(run(plan_file, tmp_path), "cls-eval.jsonl:1", "label 'weather'")


def test_broken_yaml_names_the_line(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("task: qa\napproaches: [zero-shot\n")
    assert_clean_failure(run(plan, tmp_path), "plan.yaml:", "invalid YAML")


def test_missing_plan_file(tmp_path):
    assert_clean_failure(run(tmp_path / "nope.yaml", tmp_path), "nope.yaml", "file not found")


def test_only_names_an_approach_outside_the_plan(plan_file, tmp_path):
    assert_clean_failure(run(plan_file, tmp_path, "--only", "lora"), "--only", "'lora'")


def test_api_model_without_key(plan_file, tmp_path, monkeypatch):
    monkeypatch.delenv("TUNEWISE_TEST_KEY", raising=False)
    api = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "TUNEWISE_TEST_KEY"}
    assert_clean_failure(run(rewrite(plan_file, api_model=api), tmp_path), "TUNEWISE_TEST_KEY is not set")


def test_unfinished_folder_of_another_plan_is_not_mixed(plan_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "compare.json").write_text('{"plan": {}, "max_new_tokens": 32}')
    before = (out / "compare.json").read_text()
    result = invoke(["compare", str(plan_file), "--out", str(out)])
    assert_clean_failure(result, "different plan", "--force")
    assert (out / "compare.json").read_text() == before


def test_override_of_an_unknown_key(plan_file, tmp_path):
    assert_clean_failure(run(plan_file, tmp_path, "limit_evall=3"), "unknown key 'limit_evall'")
