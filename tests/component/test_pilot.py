"""The pilot end to end on the tiny llama: inside its budget, every point in the ledger, predictions with
intervals in --json and in the plan, and a kill -9 that leaves the ledger consistent."""
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.component.test_eval_runner import write_plan
from tests.fakes import assert_clean_failure, invoke
from tunewise.core.ledger import Ledger, ledger_path
from tunewise.core.schema import Plan

BUDGET_S = 240


@pytest.fixture(scope="module")
def pilot_run(tiny_model, tmp_path_factory):
    """Run once for the module, in its own app home; the ledger rows are read while it is current."""
    root = tmp_path_factory.mktemp("pilot")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUNEWISE_HOME", str(root / "home"))
        return _run(root, tiny_model)


def _run(root, tiny_model):
    from tunewise.eval.pilot import run_pilot
    from tunewise.eval.runner import load_plan

    # 8 steps at batch 2: longer than the probe of the plan's steps (PROBE_STEPS), so that is a short run
    plan = load_plan(write_plan(root, tiny_model, task="classification", approaches=["zero-shot", "lora", "head"],
                                tuning={"max_steps": 8, "batch_size": 2}))
    stages = []
    started = time.monotonic()
    result = run_pilot(plan, BUDGET_S, progress=lambda *a: stages.append(a), sample_size=5)
    return result, time.monotonic() - started, stages, Ledger().runs(kind="pilot")


def test_the_pilot_finishes_inside_its_budget_and_predicts_every_approach(pilot_run):
    result, wall, stages, _ = pilot_run
    assert wall <= BUDGET_S and result.seconds <= BUDGET_S
    assert {p.approach for p in result.predictions} == {"zero-shot", "lora", "head"}
    for p in result.predictions:
        assert 0 <= p.low <= p.value <= p.high <= 1 and p.at_labels == 10
    zero = next(p for p in result.predictions if p.approach == "zero-shot")
    assert zero.basis == "measured"
    rungs = sorted({(p.approach, p.rung) for p in result.points})
    assert ("zero-shot", 0) in rungs and ("lora", 1) in rungs and ("head", 1) in rungs
    labels = [p.labels for p in result.points if p.approach == "head"]
    assert labels == sorted(labels)
    assert any(stage == "pilot budget (s)" and total == BUDGET_S for stage, _, total in stages)
    assert result.recommendation == result.predictions[0].approach


def test_every_pilot_point_is_in_the_ledger(pilot_run):
    result, _, _, rows = pilot_run
    assert len(rows) == len(result.points)
    assert {(r.approach, r.settings["rung"]) for r in rows} == {(p.approach, p.rung) for p in result.points}
    assert all(r.peak_memory_mb > 0 for r in rows)      # in-context points too: measured while they answered
    for r in (r for r in rows if r.approach == "lora"):   # a short run's own step only where its batch is not
        assert ("run_step_seconds" in r.settings) == (r.settings["run_batch"] != 2)        # the plan's 2
        assert r.settings.get("run_step_seconds", 1.0) > 0


def test_advise_pilot_json_and_plan_carry_the_predictions(tiny_model, tmp_path):
    plan_file = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "head"])
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"task": "classification", "labelled_examples": 10, "model_params_b": 0.001}))
    out = tmp_path / "plan-out.yaml"
    result = invoke(["advise", "--answers", str(answers), "--data", str(tmp_path / "cls-train.jsonl"), "--eval",
                     str(tmp_path / "cls-eval.jsonl"), "--model", str(tiny_model), "--pilot", "--pilot-budget", "3m",
                     "--plan-out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    pilot = data["pilot"]
    assert pilot["points"] and pilot["predictions"] and pilot["seconds"] <= 180
    assert data["recommendation"] == pilot["recommendation"]
    plan = Plan.model_validate(yaml.safe_load(out.read_text()))
    assert plan.recommendation == pilot["recommendation"]
    assert {p.approach for p in plan.predictions} == {p["approach"] for p in pilot["predictions"]}
    assert plan_file.exists()


def test_bad_pilot_input_is_one_clear_line(tiny_model, tmp_path):
    write_plan(tmp_path, tiny_model, task="classification")
    common = ["advise", "--task", "classification", "--data", str(tmp_path / "cls-train.jsonl"), "--model",
              str(tiny_model), "--pilot"]
    assert_clean_failure(invoke(common + ["--eval", str(tmp_path / "cls-eval.jsonl"), "--pilot-budget", "2s"]),
                         "too small to measure anything", "needs about")
    assert_clean_failure(invoke(common + ["--eval", str(tmp_path / "cls-eval.jsonl"), "--pilot-budget", "soon"]),
                         "not a duration")
    tiny_eval = tmp_path / "two.jsonl"
    tiny_eval.write_text("".join(l + "\n" for l in (tmp_path / "cls-eval.jsonl").read_text().splitlines()[:2]))
    assert_clean_failure(invoke(common + ["--eval", str(tiny_eval)]), "fewer than the", "classes")
    assert_clean_failure(invoke(["advise", "--task", "classification", "--model", str(tiny_model), "--pilot"]),
                         "--pilot needs --data")


def test_plan_predictions_must_name_its_approaches(tmp_path, tiny_model):
    plan = yaml.safe_load(write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot"]).read_text())
    plan["predictions"] = [{"approach": "lora", "metric": "f1_macro", "value": 0.5, "low": 0.4, "high": 0.6,
                            "basis": "curve"}]
    path = tmp_path / "bad-plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    assert_clean_failure(invoke(["compare", str(path), "--out", str(tmp_path / "out")]),
                         "'lora', which is not among the plan's approaches")


def test_a_killed_pilot_leaves_the_ledger_consistent(tiny_model, tmp_path, _isolated):
    write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "few-shot", "lora", "head"])
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"task": "classification", "labelled_examples": 10}))
    args = [sys.executable, "-m", "tunewise.cli.main", "advise", "--answers", str(answers), "--data",
            str(tmp_path / "cls-train.jsonl"), "--eval", str(tmp_path / "cls-eval.jsonl"), "--model", str(tiny_model),
            "--pilot", "--pilot-budget", "5m"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger_path().exists() and len(Ledger().runs(kind="pilot")) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rows = Ledger().runs(kind="pilot")
    assert len(rows) >= 2 and all(r.metric_value is not None for r in rows)
    with sqlite3.connect(ledger_path()) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_questionnaire_offers_the_pilot_when_data_is_given(tiny_model, tmp_path):
    write_plan(tmp_path, tiny_model, task="classification")
    typed = ["classification", "10", "0", "0", "never", "no", "open-weights", "0.001", "0", "16", "none", "none", "yes"]
    result = invoke(["advise", "--data", str(tmp_path / "cls-train.jsonl"), "--eval", str(tmp_path / "cls-eval.jsonl"),
                     "--model", str(tiny_model), "--json"], input="\n".join(typed + ["n"]) + "\n")
    assert result.exit_code == 0, result.output
    assert "Run a pilot on your data now?" in result.output and "at most 10m" in result.output
    assert '"pilot"' not in result.output


def test_trainable_rungs_are_growing_complete_short_runs_on_the_same_sample(pilot_run):
    result, _, _, rows = pilot_run
    lora = [p for p in result.points if p.approach == "lora"]
    seen = [p.examples_seen for p in lora]
    assert seen == sorted(set(seen))                                # growing runs
    # the first point is the probe: 3 of the plan's steps at its own batch, timed and then scored, since a
    # pilot whose ceiling is a fifth of a compare this small buys no longer run
    assert (lora[0].steps, lora[0].batch, lora[0].examples_seen) == (3, 2, 6)
    assert len(lora) == 1 or seen[1] >= 9                           # the second run: clearly longer, or none
    assert all(p.examples_seen == p.steps * p.batch and p.step_seconds > 0 for p in lora)
    assert {r.settings["sample"] for r in rows} == {result.sample_size}                      # one sample for all
    assert result.compare_estimate_seconds > 0 and result.planned_seconds <= BUDGET_S
    prediction = next(p for p in result.predictions if p.approach == "lora")
    assert prediction.at_steps == 8
    assert prediction.basis == "measured" if lora[-1].examples_seen == 16 else prediction.basis != "measured"
    assert any(r.settings.get("step_seconds") for r in rows if r.approach == "lora")        # the ledger learns it


def test_a_plan_no_longer_than_the_probe_is_measured_not_predicted(tiny_model, tmp_path, _isolated):
    from tunewise.eval.pilot import run_pilot
    from tunewise.eval.pilot_train import PROBE_STEPS
    from tunewise.eval.runner import load_plan

    plan = load_plan(write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "lora"]))
    assert plan.tuning.max_steps <= PROBE_STEPS                    # 2 steps at batch 2
    result = run_pilot(plan, BUDGET_S, sample_size=5)
    lora = [p for p in result.points if p.approach == "lora"]
    assert [(p.steps, p.batch) for p in lora] == [(2, 2)]          # timing its steps was the plan's own run
    prediction = next(p for p in result.predictions if p.approach == "lora")
    assert prediction.basis == "measured" and prediction.value == lora[0].value


def test_without_an_eval_set_the_pilot_holds_out_a_slice_of_train(tiny_model, tmp_path):
    write_plan(tmp_path, tiny_model, task="classification")
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"task": "classification", "labelled_examples": 15, "model_params_b": 0.001}))
    train = tmp_path / "all-train.jsonl"
    train.write_text((tmp_path / "cls-train.jsonl").read_text() + (tmp_path / "cls-eval.jsonl").read_text())
    out = tmp_path / "plan-out.yaml"
    result = invoke(["advise", "--answers", str(answers), "--data", str(train), "--model", str(tiny_model),
                     "--pilot", "--pilot-budget", "3m", "--plan-out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    pilot = json.loads(result.output[result.output.index("{"):])["pilot"]
    plan = Plan.model_validate(yaml.safe_load(out.read_text()))
    assert plan.eval == Path("plan-out-holdout.jsonl") and plan.train == Path("plan-out-train.jsonl")
    held = (tmp_path / plan.eval).read_text().splitlines()
    rest = (tmp_path / plan.train).read_text().splitlines()
    assert len(held) + len(rest) == 15 and not set(held) & set(rest)
    assert pilot["eval_source"].startswith("held-out slice of train") and pilot["train_examples"] == len(rest)


def test_the_api_variants_are_piloted_on_a_loopback_server(tiny_model, tmp_path, monkeypatch):
    from tests.fakes import loopback_api
    from tunewise.eval.pilot import run_pilot
    from tunewise.eval.runner import load_plan

    with loopback_api(tiny_model, "sk-pilot", monkeypatch) as api:
        plan = load_plan(write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot"],
                                    api_model=api))
        result = run_pilot(plan, 120)
    assert {p.approach for p in result.predictions} == {"zero-shot", "api-zero-shot"}
    api_point = next(p for p in result.points if p.approach == "api-zero-shot")
    assert api_point.steps is None and 0 <= api_point.value <= 1


def test_an_unmeasured_tuned_lm_is_priced_at_its_anchors_answers_and_compares_checks_count(tiny_model, tmp_path):
    """rag+lora answers rag's long prompts: before its first score it costs what rag measured, not the
    baseline; the compare estimate adds the drift questions, planted-instruction questions and probes."""
    from tunewise.eval.pilot import Pilot
    from tunewise.eval.runner import load_plan

    plan = load_plan(write_plan(tmp_path, tiny_model, approaches=["zero-shot", "rag", "rag+lora"]))
    pilot = Pilot(plan, BUDGET_S, sample_size=2)
    pilot.measured.answer_s.update({"zero-shot": 0.25, "rag": 1.5})
    answer = pilot._answer_seconds()
    assert answer == {"zero-shot": 0.25, "rag": 1.5, "rag+lora": 1.5}
    assert pilot.checks == {"drift": 3, "injection": 12, "probes": 48}
    pilot.index_s = 2.0
    # drift: 3 questions x (0.25 + 1.5 + 1.5) + one re-index; injection: 12 x (1.5 + 1.5) + one planted
    # index; probes: the base and rag+lora, 48 each at zero-shot's 0.25 s
    assert pilot._checks_seconds(answer) == pytest.approx(3 * 3.25 + 2.0 + 12 * 3.0 + 2.0 + 2 * 48 * 0.25)


def test_a_search_is_priced_capped_and_leaves_training_its_share(tiny_model, tmp_path, _isolated):
    """few-shot-opt's build is a search: compare pays all its trials, the pilot makes what its share buys
    (the first trial, plain few-shot, always) and still trains LoRA after it."""
    from tunewise.eval.pilot import Pilot
    from tunewise.eval.runner import load_plan

    plan = load_plan(write_plan(tmp_path, tiny_model, task="classification",
                                approaches=["zero-shot", "few-shot-opt", "lora"],
                                tuning={"max_steps": 4, "batch_size": 2, "few-shot-opt": {"trials": 100_000}}))
    priced = Pilot(plan, BUDGET_S, sample_size=5)
    priced.measured.answer_s["zero-shot"] = 0.5
    # before it searched: its spec's 16 queries a trial (8 trials of 16 by default) at the slowest answer
    assert priced._search_seconds("few-shot-opt") == pytest.approx(100_000 * 16 * 0.5)
    priced.measured.searches["few-shot-opt"] = {"trials": [{}, {}, {}, {}], "search_seconds": 2.0}
    assert priced._search_seconds("few-shot-opt") == pytest.approx(100_000 * 0.5)   # measured: 0.5 s a trial

    result = Pilot(plan, 40, sample_size=5).run()
    assert result.seconds <= 40
    assert any(p.approach == "few-shot-opt" for p in result.points)
    assert any(p.approach == "lora" and p.rung >= 1 for p in result.points)     # training was not starved
    # 100,000 trials outlast any share: the search stops at its cap, and says so
    made = next(s for s in result.statements if s.startswith("few-shot-opt made "))
    assert "of its 100000 search trials" in made and "compare makes them all" in made


def test_a_run_is_admitted_only_with_room_to_score_it_and_the_runs_before_it(tiny_model, tmp_path):
    """Admitting a short run by its training alone let two first runs in whose scoring then took a 2-minute
    pilot 24% past its budget on a shared CPU: the scoring owed counts too."""
    from tunewise.eval.pilot import Pilot
    from tunewise.eval.pilot_train import Training
    from tunewise.eval.runner import load_plan

    plan = load_plan(write_plan(tmp_path, tiny_model, task="classification",
                                approaches=["zero-shot", "lora", "prompt-tuning"],
                                tuning={"max_steps": 8, "batch_size": 2}))
    pilot = Pilot(plan, 100, sample_size=5)
    pilot.measured.answer_s["zero-shot"] = 2.0               # both tuned LMs answer at their anchor's rate
    for name in ("lora", "prompt-tuning"):
        pilot.trainings[name] = Training(name, tmp_path / name, full=8, batch=2, step_s=1.0, overhead_s=5.0,
                                         loaded_s=5.0)
    lora, tuning = pilot.trainings["lora"], pilot.trainings["prompt-tuning"]
    pilot.started = time.monotonic() - 50                   # 50 of the 100 s spent
    assert pilot._scoring_seconds(tuning) == pytest.approx(5.0 + 2.0 * 5)      # load + 5 answers
    assert pilot._admits(tuning, 30.0)                       # 30 + 15 of the 50 left
    pilot.unscored.add("lora")                               # LoRA's run is trained and owes its 15 s
    assert not pilot._admits(tuning, 30.0) and pilot._admits(tuning, 15.0)
    assert pilot._admits(lora, 30.0)                         # a run's own scoring is not counted twice
