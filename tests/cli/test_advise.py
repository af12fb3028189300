"""`tunewise advise` and `tunewise assess` as a user runs them: questionnaire on stdin, files, flags."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from tunewise.core.schema import Plan
from tests.fakes import invoke, write_jsonl

# The questionnaire's questions in order, for an open-weights model without a GPU (the GPU-price and
# API-price questions are then skipped).
ANSWERS = {"task": "qa", "labelled_examples": 40, "corpus_documents": 30, "preference_pairs": 0,
           "knowledge_changes": "weekly",
           "long_tail": True, "model_access": "open-weights", "model_params_b": 0.135, "gpu_memory_gb": 0,
           "ram_gb": 16, "budget_usd": None, "latency_ms": None, "data_may_leave": True}
TYPED = ["qa", "40", "30", "0", "weekly", "yes", "open-weights", "0.135", "0", "16", "none", "none", "yes"]


def as_flags(answers: dict) -> list[str]:
    out = []
    for key, value in answers.items():
        shown = "none" if value is None else ("yes" if value is True else "no" if value is False else str(value))
        out += ["--" + key.replace("_", "-"), shown]
    return out


def test_questionnaire_answers_file_and_flags_give_the_same_json(tmp_path, _isolated):
    typed = invoke(["advise", "--json"], input="\n".join(TYPED) + "\n")
    assert typed.exit_code == 0, typed.output
    answers_file = tmp_path / "answers.yaml"
    answers_file.write_text(yaml.safe_dump(ANSWERS), encoding="utf-8")
    from_file = invoke(["advise", "--answers", str(answers_file), "--json"])
    from_flags = invoke(["advise", *as_flags(ANSWERS), "--json"])
    assert from_file.exit_code == 0 and from_flags.exit_code == 0, from_file.output + from_flags.output
    result = json.loads(typed.stdout)
    assert result == json.loads(from_file.stdout) == json.loads(from_flags.stdout)
    assert set(result) == {"recommendation", "ranking", "profile"}
    assert result["recommendation"] == "rag"
    top = result["ranking"][0]
    assert top["approach"] == "rag" and top["feasible"] and top["reasons"] and "index_mb" in top["estimates"]
    saved = yaml.safe_load((_isolated / "answers.yaml").read_text(encoding="utf-8"))
    assert saved["task"] == "qa" and saved["long_tail"] is True


def test_questionnaire_reasks_invalid_answers_and_offers_saved_ones_next_time(_isolated):
    typed = ["qa", "forty", "40", *TYPED[2:5], "maybe", *TYPED[5:]]
    first = invoke(["advise", "--json"], input="\n".join(typed) + "\n")
    assert first.exit_code == 0, first.output
    assert "expected a number" in first.output
    again = invoke(["advise", "--json"], input="\n" * len(TYPED))   # Enter keeps every saved answer
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads(first.stdout)


def test_questionnaire_keeps_answers_when_input_ends_early(_isolated):
    result = invoke(["advise"], input="style\n250\n")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "run `tunewise advise` again to resume" in result.output
    saved = yaml.safe_load((_isolated / "answers.yaml").read_text(encoding="utf-8"))
    assert saved == {"task": "style", "labelled_examples": 250}


def test_ctrl_c_exits_130_and_keeps_answers(monkeypatch, _isolated):
    from rich.prompt import Prompt

    replies = iter(["classification", "500"])

    def ask(*args, **kwargs):
        try:
            return next(replies)
        except StopIteration:
            raise KeyboardInterrupt from None

    monkeypatch.setattr(Prompt, "ask", ask)
    result = invoke(["advise"])
    assert result.exit_code == 130 and "Interrupted." in result.output
    saved = yaml.safe_load((_isolated / "answers.yaml").read_text(encoding="utf-8"))
    assert saved == {"task": "classification", "labelled_examples": 500}


def test_interactive_edit_uses_the_file_as_defaults(tmp_path):
    answers_file = tmp_path / "answers.yaml"
    answers_file.write_text(yaml.safe_dump(ANSWERS), encoding="utf-8")
    edited = ["style", "500"] + [""] * (len(TYPED) - 2)
    result = invoke(["advise", "--answers", str(answers_file), "-i", "--json"], input="\n".join(edited) + "\n")
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)["profile"]["answers"]
    assert answers["task"] == "style" and answers["labelled_examples"] == 500 and answers["long_tail"] is True


def test_questionnaire_offers_a_pilot_on_a_held_out_slice_when_only_training_data_is_given(tmp_path, _isolated):
    rows = [{"text": f"{topic} question number {i}", "label": topic}
            for topic in ("billing", "shipping", "returns") for i in range(20)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    typed = ["classification", "60", "0", *TYPED[3:]]
    args = ["advise", "--data", str(train), "--pilot-budget", "1s"]
    declined = invoke(args, input="\n".join(typed + ["n"]) + "\n")
    assert declined.exit_code == 0, declined.output
    offer = " ".join(declined.output[declined.output.index("Run a pilot"):].split())
    assert "a held-out slice of your training data (20% of it, as no --eval was given)" in offer
    assert re.search(r"takes about [\d.]+ (ms|s|min), at most 1s \(--pilot-budget\)", offer), offer
    assert "Recommendation:" in declined.output and not list(_isolated.glob("*/pilot-holdout.jsonl"))
    # Accepted, the pilot holds out the slice and runs on it: a budget of 1s is then refused in one line.
    # (The runner does not echo the typed "y", so the error shares the prompt's line.)
    accepted = invoke(args, input="\n".join(typed + ["y"]) + "\n")
    assert accepted.exit_code != 0 and "Traceback" not in accepted.output, accepted.output
    assert "(n): Error: --pilot-budget 1s is too small to measure anything" in accepted.output
    held = list(_isolated.glob("*/pilot-holdout.jsonl"))
    assert len(held) == 1 and len(held[0].read_text(encoding="utf-8").splitlines()) == 12


def test_advise_with_files_writes_a_runnable_plan(tmp_path):
    rows = [{"question": f"What is the fare on route {i}?", "answer": f"{i} pounds"} for i in range(120)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    evaluation = write_jsonl(tmp_path / "eval.jsonl", rows[:5])
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "fares.md").write_text("Route 1 costs 1 pound.", encoding="utf-8")
    plan_path = tmp_path / "out" / "plan.yaml"
    args = ["advise", "--task", "qa", "--knowledge-changes", "daily", "--data", str(train), "--eval",
            str(evaluation), "--corpus", str(corpus), "--plan-out", str(plan_path)]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert "Recommendation: rag+lora" in result.output and "Leakage: 5 eval inputs" in result.output
    plan = Plan.model_validate(yaml.safe_load(plan_path.read_text(encoding="utf-8")))
    assert plan.approaches[0] == "zero-shot" and plan.recommendation == "rag+lora"
    assert plan.resolve_paths(plan_path.parent).eval == evaluation.resolve()
    from tunewise.eval.runner import validate  # the contract: compare accepts the plan as written

    assert validate(plan_path).names == plan.approaches
    again = invoke(args + ["--force"])
    assert again.exit_code == 0, again.output


def test_calibration_from_a_run_json_changes_the_estimate(tmp_path):
    run = {"method": "lora", "model": "smollm2-135m-instruct", "output_dir": "o", "config": {"max_seq_len": 512,
           "batch_size": 4}, "data_hash": "h", "seed": 0, "versions": {}, "device": "cpu", "precision": "fp32",
           "total_params": 134515008, "peak_memory_mb": 20000.0}
    (tmp_path / "run.json").write_text(json.dumps(run), encoding="utf-8")
    base = invoke(["advise", "--task", "style", "--labelled-examples", "500", "--json"])
    calibrated = invoke(["advise", "--task", "style", "--labelled-examples", "500", "--json",
                         "--calibrate", str(tmp_path / "run.json")])
    lora = lambda r: next(x for x in json.loads(r.stdout)["ranking"] if x["approach"] == "lora")  # noqa: E731
    assert lora(calibrated)["estimates"]["memory_gb"] > 2 * lora(base)["estimates"]["memory_gb"]
    assert lora(calibrated)["estimates"]["calibrated_from"].endswith("run.json")


def test_assess_table_and_json(tmp_path):
    rows = [{"text": f"complaint {i} about billing", "label": "billing"} for i in range(30)]
    rows += [{"text": "late parcel", "label": "shipping"}, {"text": "late parcel", "label": "shipping"}]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    table = invoke(["assess", str(data), "--fast"])
    assert table.exit_code == 0, table.output
    assert "imbalanced" in table.output and "exact_duplicates" in table.output
    result = invoke(["assess", str(data), "--fast", "--json"])
    profile = json.loads(result.stdout)
    assert profile["data"]["label_counts"] == {"billing": 30, "shipping": 2}
    assert profile["data"]["exact_duplicates"] == 1 and profile["corpus"] is None


def test_advise_from_answers_imports_no_heavy_library(tmp_path):
    (tmp_path / "a.yaml").write_text("task: style\nlabelled_examples: 300\n", encoding="utf-8")
    code = ("import sys\nfrom click.testing import CliRunner\nfrom tunewise.cli.main import cli\n"
            f"r = CliRunner().invoke(cli, ['advise', '--answers', {str(tmp_path / 'a.yaml')!r}, '--json'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(','.join(m for m in ('torch', 'transformers', 'chromadb', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
