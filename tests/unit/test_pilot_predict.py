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
