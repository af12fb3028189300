"""The questionnaire in a real pseudo terminal, as a person meets it: what it asks, how it counts,
and the command it ends with."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

TUNEWISE = Path(sys.executable).with_name("tunewise")
EXAMPLES = Path(__file__).parents[2] / "examples"
PROMPT = r"\n  ([a-z_0-9]+)\b[^\r\n]*: "                # rich's "  key [choices] (default): "
# The pilot offer, wrapped and coloured, up to its "(n):" (rich drops the space after it when the line is full).
PILOT_OFFER = r"\(--pilot-budget\)[\s\S]*?\(n\)(?:\x1b\[[0-9;]*m)*:"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = pytest.mark.skipif(not TUNEWISE.exists(), reason="the tunewise script is not installed beside python")
LOCAL_ONLY = {"model_params_b", "gpu_memory_gb", "ram_gb", "gpu_hour_usd"}


def answer_questionnaire(args: list[str], answers: dict[str, str], home: Path) -> tuple[list[str], str]:
    """Run `tunewise advise ARGS` in a pty, answer each prompt from `answers`; the keys asked and the output."""
    env = {**os.environ, "TUNEWISE_HOME": str(home), "COLUMNS": "100"}
    child = pexpect.spawn(str(TUNEWISE), ["advise", *args], env=env, encoding="utf-8", timeout=60,
                          dimensions=(50, 100))
    asked, transcript = [], []
    while (found := child.expect([PROMPT, PILOT_OFFER, pexpect.EOF])) != 2:
        transcript.append(child.before + child.after)
        if found == 1:                      # with data given, the pilot is offered at the end
            child.sendline("n")
            continue
        key = child.match.group(1)
        asked.append(key)
        child.sendline(answers[key])
    transcript.append(child.before)
    child.close()
    assert child.exitstatus == 0, ANSI.sub("", "".join(transcript))
    return asked, ANSI.sub("", "".join(transcript))


API_ANSWERS = {"task": "qa", "labelled_examples": "40", "corpus_documents": "30", "preference_pairs": "0", "knowledge_changes": "weekly",
               "long_tail": "yes", "model_access": "", "budget_usd": "none", "token_usd_per_1m": "0.5",
               "latency_ms": "300", "cost_per_query_usd": "none", "data_may_leave": "yes"}


def test_api_model_skips_size_and_hardware_counts_right_and_names_the_next_command(tmp_path):
    asked, output = answer_questionnaire(["--api-base", "http://127.0.0.1:9/v1", "--model", "gpt-test"],
                                         API_ANSWERS, tmp_path / "home")
    assert not LOCAL_ONLY & set(asked)
    assert asked == list(API_ANSWERS)
    assert f"{len(asked)} questions" in output
    positions = re.findall(r"\n(\d+)/(\d+) ", output)
    assert positions == [(str(i), str(len(asked))) for i in range(1, len(asked) + 1)]
    assert "A document is one file in the folder" in output
    assert "Run a pilot" not in output                     # no training data, nothing to pilot on
    assert "model_access is api-only" in output            # the blocked tuning approaches say why
    assert "limit not checked: latency_ms 300" in output   # the API has no latency estimate
    next_line = output.strip().splitlines()[-1]
    assert next_line == (f"Next: tunewise advise --answers {tmp_path / 'home' / 'answers.yaml'} --data TRAIN.jsonl "
                         "--eval EVAL.jsonl --model gpt-test --api-base http://127.0.0.1:9/v1 --plan-out plan.yaml")


def test_local_model_asks_hardware_and_ends_with_the_compare_line_for_its_plan(tmp_path):
    answers = {**{k: v for k, v in API_ANSWERS.items() if k not in ("token_usd_per_1m", "cost_per_query_usd")},
               "model_access": "open-weights", "model_params_b": "0.135", "gpu_memory_gb": "0", "ram_gb": "16"}
    plan = tmp_path / "plan.yaml"
    asked, output = answer_questionnaire(
        ["--data", str(EXAMPLES / "qa-train.jsonl"), "--eval", str(EXAMPLES / "qa-eval.jsonl"),
         "--corpus", str(EXAMPLES / "docs"), "--plan-out", str(plan)], answers, tmp_path / "home")
    assert {"model_params_b", "gpu_memory_gb", "ram_gb"} <= set(asked)
    assert "gpu_hour_usd" not in asked and "token_usd_per_1m" not in asked   # no GPU, no API
    assert f"{len(asked)} questions" in output
    assert "It measures each candidate on your eval set and takes about" in " ".join(output.split())
    assert plan.exists()
    assert output.strip().splitlines()[-1] == f"Next: tunewise compare {plan} --out {tmp_path / 'plan-compare'}"


def test_training_data_alone_is_offered_a_pilot_on_a_held_out_slice_with_its_duration(tmp_path):
    answers = {**{k: v for k, v in API_ANSWERS.items() if k not in ("token_usd_per_1m", "cost_per_query_usd")},
               "task": "classification", "corpus_documents": "0", "model_access": "open-weights",
               "model_params_b": "0.135", "gpu_memory_gb": "0", "ram_gb": "16"}
    asked, output = answer_questionnaire(["--data", str(EXAMPLES / "tickets-train.jsonl")], answers, tmp_path / "home")
    offer = " ".join(output[output.index("Run a pilot on your data now?"):].split())
    assert "on a held-out slice of your training data (20% of it, as no --eval was given)" in offer
    assert re.search(r"takes about [\d.]+ (s|min), at most 10m \(--pilot-budget\)", offer), offer
    assert "Recommendation:" in output
