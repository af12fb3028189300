"""--force and --out against the user's own files: refused with one Error line, nothing deleted or written.

An output that is, holds or sits inside an input is refused for every writing command, with or without
--force; --force replaces only a folder tunewise marked as its own.
"""
import json

import pytest

from tests.component.test_eval_runner import write_plan
from tests.fakes import assert_clean_failure, invoke, write_jsonl
from tunewise.core.files import OUTPUT_MARKER

SFT = [{"prompt": "hi", "completion": "hello"}] * 3


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def work(tmp_path, tiny_model):
    """A user's folder: data, plans, corpora and an unrelated notes file."""
    root = tmp_path / "W"
    root.mkdir()
    write_plan(root, tiny_model, task="classification", approaches=["zero-shot"])
    write_plan(root, tiny_model, task="qa", approaches=["zero-shot", "rag"])
    (root / "notes.txt").write_text("my notes")
    return root


@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize("args", [
    ["compare", "{W}/plan-classification.yaml", "--out", "{W}"],
    ["compare", "{W}/plan-qa.yaml", "--out", "{W}/docs-v2/run"],
    ["tune", "--train", "{W}/cls-train.jsonl", "--out", "{W}", "--max-steps", "1"],
    ["tune", "--train", "{W}/cls-train.jsonl", "--out", "{W}/cls-train.jsonl", "--max-steps", "1"],
    ["tune", "--train", "{W}/cls-train.jsonl", "--eval", "{W}/cls-eval.jsonl", "--out", "{W}/..", "--max-steps", "1"],
    ["index", "build", "{W}/docs", "--index", "{W}/docs/index"],
    ["index", "build", "{W}/docs", "--index", "{W}"],
    ["index", "update", "{W}/docs", "--index", "{W}/docs"],
    ["advise", "--task", "classification", "--data", "{W}/cls-train.jsonl", "--eval", "{W}/cls-eval.jsonl",
     "--plan-out", "{W}/cls-eval.jsonl"],
])
def test_output_overlapping_an_input_is_refused(work, args, force):
    if force and args[:2] == ["index", "update"]:
        pytest.skip("index update has no --force")
    before = snapshot(work.parent)
    result = invoke([a.format(W=work) for a in args] + force)
    assert_clean_failure(result, "input", "apart from the inputs")
    assert snapshot(work.parent) == before


def test_export_over_its_own_adapter_folder_is_refused(tmp_path, tiny_model):
    root = tmp_path / "W"
    adapter = root / "src"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA",
                                                             "base_model_name_or_path": str(tiny_model)}))
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    before = snapshot(tmp_path)
    assert_clean_failure(invoke(["export", str(adapter), "--out", str(root), "--merge", "--force"]), "input")
    assert snapshot(tmp_path) == before


def test_force_leaves_a_folder_tunewise_did_not_write(tmp_path, tiny_model):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    result = invoke(["tune", "--model", str(tiny_model), "--train", str(data), "--out", str(out), "--force"])
    assert_clean_failure(result, str(out), "not written by tunewise", "--force will not delete it")
    assert (out / "thesis.tex").read_text() == "years of work"


def test_force_replaces_a_marked_output_folder(tmp_path):
    root = tmp_path / "W"
    root.mkdir()
    plan = write_plan(root, tmp_path / "unused-model", task="classification", approaches=["zero-shot"])
    out = tmp_path / "run"
    out.mkdir()
    (out / OUTPUT_MARKER).write_text("written by tunewise compare\n")
    (out / "results.json").write_text("{}")
    # The model is missing, so the run fails after claiming: the old results are gone, the marker is back.
    invoke(["compare", str(plan), "--out", str(out), "--force"])
    assert not (out / "results.json").exists()
    assert (out / OUTPUT_MARKER).is_file()


def test_plan_out_over_a_folder_is_refused(tmp_path, work):
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "a.yaml").write_text("keep")
    result = invoke(["advise", "--task", "classification", "--data", str(work / "cls-train.jsonl"),
                     "--eval", str(work / "cls-eval.jsonl"), "--plan-out", str(folder), "--force"])
    assert_clean_failure(result, "is a folder")
    assert (folder / "a.yaml").read_text() == "keep"
