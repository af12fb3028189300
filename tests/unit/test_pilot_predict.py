"""A score measured on the pilot's sample: its interval is never narrower than Wilson's for that share."""
import pytest

from tunewise.eval.pilot_predict import at_least_wilson


def test_a_perfect_sample_still_has_an_interval():
    low, high = at_least_wilson(1.0, 1.0, 1.0, 15)          # a bootstrap over 15 of 15 right is [1, 1]
    assert low == pytest.approx(0.7961, abs=1e-3) and high == 1.0
    assert low < 0.888                                       # holds what all 45 eval messages measured


def test_a_wider_bootstrap_interval_is_kept():
    assert at_least_wilson(0.5, 0.1, 0.95, 40) == (0.1, 0.95)
    low, high = at_least_wilson(0.5, 0.45, 0.55, 40)
    assert low == pytest.approx(0.3520, abs=1e-3) and high == pytest.approx(0.6480, abs=1e-3)


def test_a_pilot_dearer_than_a_quarter_of_compare_says_so():
    from tunewise.eval.pilot_predict import sample_statements
    from tunewise.eval.pilot_records import PilotPrediction, PilotResult

    leader = PilotPrediction(approach="head", metric="accuracy", value=0.93, low=0.7, high=1.0, basis="measured",
                             at_labels=75)

    def said(seconds: float) -> list[str]:
        result = PilotResult(metric="accuracy", sample_size=15, train_examples=75, budget_seconds=600,
                             seconds=seconds, peak_memory_mb=0.0, compare_estimate_seconds=117.4,
                             planned_seconds=23.5)
        return sample_statements(leader, 15, 45, result, 600)

    # the ticket pilot: 37.7 s against a compare estimated at 117 s (bench/RESULTS.md)
    assert any("more than a quarter of the 117s" in s and "`tunewise compare` itself" in s for s in said(37.7))
    assert not any("more than a quarter" in s for s in said(25.0))


def test_a_floor_says_which_run_would_keep_the_plans_steps_and_what_it_costs():
    from pathlib import Path

    from tunewise.eval.pilot_predict import floor_statements
    from tunewise.eval.pilot_records import PilotPrediction
    from tunewise.eval.pilot_train import Training

    # the ticket plan: 40 steps at batch 8; the 3-step probe measured 2.0 s a step; loads 5 s
    t = Training("lora", Path("."), full=40, batch=8, step=3, shape=(3, 8), step_s=2.0, overhead_s=5.0,
                 loaded_s=4.0)
    floor = PilotPrediction(approach="lora", metric="f1_macro", value=0.17, low=0.05, high=1.0,
                            basis="last-point", at_labels=75)
    measured = floor.model_copy(update={"approach": "zero-shot", "basis": "measured"})
    # 40 steps of 1 example at the prior's 0.2 x 2.0 + 0.8 x 2.0 / 8 = 0.6 s each, + 5 s saving + 4 s loading
    (line,) = floor_statements([floor, measured], {"lora": t}, ceiling=26.0, compare_s=130.0)
    assert "40 steps of 1 example," in line and "about 33s" in line and "planned 26s" in line
    assert "better measurement of lora" in line           # 33 s > a quarter of 130 s
    (cheap,) = floor_statements([floor], {"lora": t}, ceiling=60.0, compare_s=300.0)
    assert "better measurement" not in cheap and "estimated at 300s" in cheap
    # a short run that already had all the plan's steps, or a curve-based prediction: nothing to say
    assert floor_statements([floor], {"lora": Training("lora", Path("."), 40, 8, shape=(40, 2), step_s=2.0)},
                            26.0, 130.0) == []
    assert floor_statements([floor.model_copy(update={"basis": "curve"})], {"lora": t}, 26.0, 130.0) == []


def _qa_rows(scores: list[int], tag: str) -> list[dict]:
    """QA prediction rows whose token F1 is 1 or 0 each (the reference answered, or not at all)."""
    return [{"id": f"q{i}", "reference": "3.2.2-2", "prediction": "3.2.2-2" if s else "unknown"}
            for i, s in enumerate(scores)]


def _short_run(anchor: list[int], run: list[int]):
    """A pilot that measured RAG (the untrained start) and one short RAG + LoRA run on the same 10 examples."""
    from pathlib import Path

    from tunewise.core.schema import Plan
    from tunewise.eval.pilot_records import PilotPoint, PilotResult
    from tunewise.eval.pilot_sample import Measured
    from tunewise.eval.pilot_train import Training

    plan = Plan(task="qa", train=Path("train.jsonl"), eval=Path("eval.jsonl"), approaches=["rag", "rag+lora"])
    measured = Measured(rows={"rag": [_qa_rows(anchor, "r")], "rag+lora": [_qa_rows(run, "l")]},
                        x={"rag": [0], "rag+lora": [24]})
    value = sum(run) / len(run)
    result = PilotResult(metric="token_f1", sample_size=10, train_examples=120, budget_seconds=600, seconds=0.0,
                         peak_memory_mb=0.0, points=[PilotPoint(
                             approach="rag+lora", rung=1, labels=24, steps=3, batch=8, examples_seen=24,
                             value=value, low=max(value - 0.2, 0), high=min(value + 0.2, 1), seconds=1.0,
                             peak_memory_mb=0.0, latency_ms_p50=1.0)])
    t = Training("rag+lora", Path("."), full=40, batch=8, step=3, shape=(3, 8), step_s=1.5)
    return plan, result, measured, t


def test_a_short_run_above_its_untrained_start_is_a_floor_and_one_level_with_it_is_a_prediction():
    from tunewise.eval.pilot_predict import flat_statements, predict, rises

    assert rises([0, 24], [0.26, 0.30]) and not rises([0, 24], [0.26, 0.256]) and not rises([0, 24], [0.3, 0.3])
    assert rises([24, 96], [0.2, 0.1])                       # no untrained start measured: nothing to rise from
    # above RAG on the same examples: more steps are expected to raise it further, the interval reaches 1
    plan, result, measured, t = _short_run([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    floor, _ = predict(plan, result, measured, "rag+lora", t, 120)
    assert floor.basis == "last-point" and floor.value == 0.3 and floor.high == 1.0
    # level with RAG (the Debian package questions, bench/RESULTS.md): not a floor that may lead, though
    # more steps may still raise it (the interval keeps the ceiling)
    plan, result, measured, t = _short_run([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    flat, _ = predict(plan, result, measured, "rag+lora", t, 120)
    assert flat.basis == "flat" and flat.value == 0.3 and flat.high == 1.0
    (line,) = flat_statements(plan, [flat], measured, {"rag+lora": t})
    assert line.startswith("rag+lora's short run (3 steps of 8) scored 0.300, no higher than rag's 0.300 on the "
                           "same 10 examples") and "not led as a floor the plan's 40 steps would raise" in line
    assert flat_statements(plan, [floor], measured, {"rag+lora": t}) == []
