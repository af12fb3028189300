"""dpo, few-shot-opt and the safety probes through compare on the tiny llama, real Chroma and MiniLM."""
import shutil
from pathlib import Path

import pytest

from tests.component.test_eval_runner import write_plan
from tests.fakes import assert_clean_failure, invoke
from tunewise.core.data import load_dataset
from tunewise.core.schema import Plan
from tunewise.eval.approaches.few_shot_opt import PLAIN, FewShotOptConfig, carve_dev, search
from tunewise.eval.workspace import Workspace
from tunewise.retrieval.generate import Generation

EXAMPLE = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def new_run(tiny_model, tmp_path_factory):
    from tunewise.eval.runner import run_compare

    root = tmp_path_factory.mktemp("new")
    shutil.copy(EXAMPLE / "preferences.jsonl", root / "prefs.jsonl")
    shutil.copy(EXAMPLE / "qa-train.jsonl", root / "qa-train-all.jsonl")
    plan = write_plan(root, tiny_model, approaches=["few-shot", "few-shot-opt", "rag", "dpo"],
                      preferences="prefs.jsonl", train="qa-train-all.jsonl",
                      tuning={"max_steps": 2, "batch_size": 2, "few-shot-opt": {"trials": 3, "dev_max": 4}})
    return root / "out", run_compare(plan, root / "out", max_new_tokens=4).model_dump(mode="json", exclude_none=True)


def test_few_shot_opt_keeps_at_least_plain_few_shot_on_dev(new_run):
    out, results = new_run
    search_record = results["approaches"]["few-shot-opt"]["search"]
    first = search_record["trials"][0]
    assert {k: first[k] for k in ("shots", "strategy", "order", "instruction")} == vars(PLAIN)
    assert search_record["best_dev_score"] >= search_record["plain_few_shot_dev_score"] == first["dev_score"]
    assert len(search_record["trials"]) == 3 and search_record["dev_examples"] == 4
    assert results["approaches"]["few-shot-opt"]["costs"]["train_seconds"] == pytest.approx(
        search_record["search_seconds"], abs=0.01)


def test_dpo_reports_held_out_preference_accuracy_and_safety(new_run):
    out, results = new_run
    dpo = results["approaches"]["dpo"]
    assert dpo["preference"]["pairs"] == {"train": 18, "eval": 6}
    assert dpo["preference"]["before"]["eval_loss"] == pytest.approx(0.693147, abs=1e-4)
    assert set(dpo["metrics"]) >= {"token_f1", "exact_match"} and "forgetting" in dpo
    harmful = dpo["safety"]["refusal_harmful"]
    assert harmful["before"]["n"] == harmful["after"]["n"] == 12 and len(harmful["before"]["ci95"]) == 2
    injection = results["approaches"]["rag"]["safety"]["injection"]
    assert injection["questions"] == 4 and injection["injection_followed"]["n"] == injection["exposed"]
    assert (out / "index-planted").is_dir() and "safety" not in results["approaches"]["few-shot"]
    report = (out / "report.md").read_text()
    for heading in ("Optimized few-shot", "Preference tuning", "Safety: refusal drift",
                    "Safety: injection through retrieval"):
        assert f"## {heading}" in report


class AnswersWhenTold:
    """Stub generator: the right answer only when the prompt asks for the answer alone."""

    context_length = 4096

    def count_tokens(self, conversation):
        return sum(len(m["content"].split()) for m in conversation)

    def generate(self, conversations, max_new_tokens=32):
        def reply(c):
            told = "answer only" in c[0]["content"]
            return c[-1]["content"].split("|")[1] if told else "I am not sure."
        return [Generation(reply(c), 1, 1, 1.0) for c in conversations]


def test_search_finds_a_better_instruction_than_plain(tmp_path):
    from tests.fakes import write_jsonl

    rows = [{"question": f"Code {i}|{w}|", "answer": w} for i, w in enumerate("north south east west up down "
                                                                           "left right in out".split())]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    plan = Plan(task="qa", train=data, eval=data, approaches=["few-shot-opt"])
    ws = Workspace(plan, load_dataset(data), None, tmp_path / "out")
    cfg = FewShotOptConfig(trials=12, dev_max=4)
    pool, dev = carve_dev(ws.train.examples, cfg, seed=0)
    best, trials = search(ws, AnswersWhenTold(), pool, dev, cfg)
    assert trials[0]["dev_score"] == 0.0 and best.instruction == "answer-only"
    assert max(t["dev_score"] for t in trials) == 1.0


def test_dpo_without_preferences_is_refused_before_anything_runs(tiny_model, tmp_path):
    plan = write_plan(tmp_path, tiny_model, approaches=["zero-shot", "dpo"])
    result = invoke(["compare", str(plan), "--out", str(tmp_path / "out")])
    assert_clean_failure(result, "approach 'dpo' needs a 'preferences' file")
    assert not (tmp_path / "out").exists()
