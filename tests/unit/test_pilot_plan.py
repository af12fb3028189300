"""How the pilot spends its budget: the sample from the budget and measured seconds per answer, the short runs
from measured seconds per step, the ledger's step times, the held-out slice."""
import pytest

from tunewise.core.data import Example
from tunewise.core.ledger import MeasuredRun
from tunewise.core.schema import Plan
from tunewise.eval import pilot_plan as pp


def test_the_sample_is_what_the_budget_buys_within_the_minimum_and_the_eval_set():
    assert pp.minimum_sample(classes=5, eval_size=45) == 5 * pp.MIN_PER_CLASS
    assert pp.minimum_sample(classes=0, eval_size=45) == pp.MIN_SAMPLE
    assert pp.minimum_sample(classes=5, eval_size=7) == 7
    bought = pp.plan_sample(seconds=60.0, per_example_s=2.0, eval_size=45, minimum=15)
    assert (bought.size, bought.limited_by) == (30, "budget") and bought.statement(45) is None
    assert pp.plan_sample(200.0, 2.0, 45, 15).size == 45                     # the eval set is the cap
    small = pp.plan_sample(10.0, 2.0, 45, 15)
    assert (small.size, small.limited_by) == (15, "minimum") and "minimum sample of 15" in small.statement(45)
    # twice the seconds per answer (say few-shot joins), half the sample
    assert pp.plan_sample(60.0, 4.0, 45, 5).size == 15


def test_the_second_short_run_is_as_long_as_the_measured_step_time_allows():
    def cost(step_s, overhead_s=0.0):           # the plan's steps at its own batch, plus loading and saving
        return lambda length: length * step_s + overhead_s

    # 2 s a step, 1 s to load and save, 40 s left after a 5-step first run: 19 steps (19 x 2 + 1 = 39 s)
    assert pp.plan_runs(first=5, full=40, cost=cost(2.0, 1.0), seconds=40.0) == [19]
    # cheap steps reach the plan's own step count: the run is the full run, measured not predicted
    assert pp.plan_runs(first=5, full=40, cost=cost(0.1), seconds=30.0) == [40]
    assert pp.plan_runs(first=5, full=40, cost=cost(0.0), seconds=1.0) == [40]
    # no time left, or not enough for a run clearly longer than the first: nothing more
    assert pp.plan_runs(first=5, full=40, cost=cost(2.0), seconds=1.0) == []
    assert pp.plan_runs(first=5, full=40, cost=cost(2.0), seconds=14.0) == []
    assert pp.plan_runs(first=5, full=40, cost=cost(2.0), seconds=16.0) == [8]


def test_a_step_costs_what_was_measured_at_its_batch_and_a_line_between():
    # only the plan's batch measured (probe steps): FIXED_SHARE of a step does not shrink with the batch
    assert pp.step_cost(8, 8, 2.2) == 2.2
    assert pp.step_cost(1, 8, 2.2) == pytest.approx(2.2 * (pp.FIXED_SHARE + (1 - pp.FIXED_SHARE) / 8))
    # a short run measured its own batch: that, and a straight line through both for the batches between
    assert pp.step_cost(1, 8, 2.2, measured=(1, 0.65)) == 0.65
    assert pp.step_cost(2, 8, 2.2, measured=(1, 0.65)) == pytest.approx(0.65 + (2.2 - 0.65) / 7)
    # a GPU: a step of one example costs about what a step of eight does
    assert pp.step_cost(4, 8, 0.10, measured=(1, 0.09)) == pytest.approx(0.09 + 0.01 * 3 / 7)
    # noisy steps that would put a small batch below zero keep a floor
    assert pp.step_cost(1, 8, 0.5, measured=(4, 2.0)) >= pp.FIXED_SHARE * 0.5


def test_a_short_runs_cost_counts_its_steps_at_its_own_batch():
    from pathlib import Path

    from tunewise.eval.pilot_train import Training

    t = Training("lora", Path("."), full=40, batch=8, step_s=2.2, overhead_s=3.0)
    assert t.run_seconds(40) == pytest.approx(40 * 2.2 + 3.0)              # the plan's own run
    # 5 of the plan's steps: its 40 steps at one example each, at the prior's cost of a 1-example step
    assert t.run_seconds(5) == pytest.approx(40 * pp.step_cost(1, 8, 2.2) + 3.0)
    t.measured = (1, 0.65)                                                 # once a 1-example run measured it
    assert t.run_seconds(5) == pytest.approx(40 * 0.65 + 3.0)
    assert pp.longest_run(40, t.run_seconds, 40 * 0.65 + 3.0) >= 5
    assert pp.longest_run(40, t.run_seconds, 1.0) == 0


def test_a_short_run_keeps_the_plans_steps_on_fewer_examples_per_step():
    assert pp.run_shape(length=5, full=40, batch=8) == (40, 1)      # an eighth: every step, one example each
    assert pp.run_shape(length=10, full=40, batch=8) == (40, 2)
    assert pp.run_shape(length=19, full=40, batch=8) == (40, 3)     # 152 examples: 3 a step over the 40 steps
    assert pp.run_shape(length=40, full=40, batch=8) == (40, 8)     # the plan's own run
    assert pp.run_shape(length=3, full=40, batch=8) == (24, 1)      # below one example a step: fewer steps
    assert pp.run_shape(length=1, full=400, batch=1) == (1, 1)


def test_the_first_run_is_an_eighth_unless_the_step_time_is_known():
    assert pp.first_run(full=40, cost=None, seconds=100.0) == 5
    assert pp.first_run(full=40, cost=lambda n: n * 1.0, seconds=100.0) == 10     # a quarter of the 40 reachable
    assert pp.first_run(full=40, cost=lambda n: n * 10.0, seconds=40.0) == 1
    assert pp.first_run(full=3, cost=None, seconds=100.0) == 1


def test_step_times_come_from_matching_ledger_rows():
    rows = [
        MeasuredRun(kind="tune", approach="lora", model="m", device="cpu", train_seconds=80.0,
                    settings={"steps": 40, "batch_size": 8, "max_seq_len": 256}),
        MeasuredRun(kind="pilot", approach="lora", model="m", device="cpu",
                    settings={"method": "lora", "step_seconds": 3.0, "batch_size": 8, "max_seq_len": 256}),
        MeasuredRun(kind="tune", approach="lora", model="m", device="cpu", train_seconds=10.0,
                    settings={"steps": 40, "batch_size": 2, "max_seq_len": 256}),          # another batch
        MeasuredRun(kind="tune", approach="head", model="m", device="cpu", train_seconds=4.0,
                    settings={"steps": 40, "batch_size": 8, "max_seq_len": 256}),          # another method
        MeasuredRun(kind="tune", approach="lora", model="other", device="cpu", train_seconds=400.0,
                    settings={"steps": 40, "batch_size": 8, "max_seq_len": 256}),          # another model
    ]
    assert pp.step_seconds_from_ledger(rows, "m", "lora", 8, 256, "cpu") == pytest.approx(2.5)
    assert pp.step_seconds_from_ledger(rows, "m", "lora", 8, 256, "cuda") is None
    assert pp.step_seconds_from_ledger([], "m", "lora", 8, 256) is None


def test_a_pilot_rows_short_run_step_is_known_at_its_own_batch():
    rows = [MeasuredRun(kind="pilot", approach="lora", model="m", device="cpu",
                        settings={"method": "lora", "step_seconds": 1.8, "batch_size": 8, "max_seq_len": 256,
                                  "run_batch": 1, "run_step_seconds": 0.76}),
            MeasuredRun(kind="pilot", approach="lora", model="m", device="cpu",      # the probe: no run step
                        settings={"method": "lora", "step_seconds": 2.0, "batch_size": 8, "max_seq_len": 256,
                                  "run_batch": 8})]
    assert pp.step_seconds_from_ledger(rows, "m", "lora", 8, 256, "cpu") == pytest.approx(1.9)
    assert pp.step_seconds_from_ledger(rows, "m", "lora", 1, 256, "cpu") == pytest.approx(0.76)
    assert pp.step_seconds_from_ledger(rows, "m", "lora", 1, 512, "cpu") is None    # another length
    # with that batch-1 step known, a step of 2 lies on the line to the plan's, not on the prior
    assert pp.step_cost(2, 8, 1.9, (1, 0.76)) == pytest.approx(0.76 + (1.9 - 0.76) / 7)


def test_the_compare_estimate_adds_answers_training_and_loads():
    seconds = pp.compare_seconds(45, [0.5, 1.5, 0.5], [(40, 2.0, 5.0)], load_s=5.0)
    assert seconds == pytest.approx(5.0 + 45 * 2.5 + 40 * 2.0 + 10.0)


def test_the_compare_estimate_adds_drift_injection_and_probes_at_measured_answers():
    answers = {"drift": 10, "injection": 12, "probes": 48}
    # two LM approaches (0.5 s and 1.0 s an answer), the second retrieving; one tuned LM; probes at 0.2 s
    seconds = pp.checks_seconds(answers, [0.5, 1.0], [1.0], tuned_lms=1, probe_s=0.2, index_s=3.0)
    assert seconds == pytest.approx(10 * 1.5 + 3.0 + 12 * 1.0 + 3.0 + 2 * 48 * 0.2)
    # nothing tuned, nothing retrieving, no changed corpus: compare adds nothing
    assert pp.checks_seconds({"drift": 0, "injection": 12, "probes": 48}, [0.5], [], 0, 0.2, 3.0) == 0.0


def test_compare_checks_are_counted_from_the_plan_and_the_shipped_probes(tmp_path):
    from tunewise.eval.checks import check_answers

    eval_next = tmp_path / "next.jsonl"
    eval_next.write_text("".join(f'{{"question": "q{i}", "answer": "a"}}\n' for i in range(7)))
    plan = Plan(task="qa", train=eval_next, eval=eval_next, corpus=tmp_path, corpus_next=tmp_path,
                eval_next=eval_next, approaches=["zero-shot"])
    assert check_answers(plan) == {"drift": 7, "injection": 12, "probes": 48}
    quiet = plan.model_copy(update={"safety": False, "corpus_next": None, "eval_next": None})
    assert check_answers(quiet) == {"drift": 0, "injection": 0, "probes": 24}


@pytest.mark.parametrize("budget, compare, minimum, expected", [
    (600, 1000, 15, 200),      # the planned share of the compare
    (100, 1000, 15, 100),      # never over the budget
    (600, 20, 15, 15),         # never under the minimum measurement
    (10, 20, 15, 10),          # a budget under the minimum: the pilot itself refuses it
])
def test_the_offered_duration_is_the_planned_share_within_the_budget(budget, compare, minimum, expected):
    assert pp.expected_seconds(budget, compare, minimum) == pytest.approx(expected)
    assert pp.minimum_seconds(8) == pytest.approx(pp.LOAD_SECONDS + 8 * pp.EXAMPLE_SECONDS)


def test_the_detectable_difference_and_sampling_error_shrink_with_the_sample():
    assert pp.detectable_difference(40, 0.8) < pp.detectable_difference(10, 0.8)
    assert pp.sampling_error(45, 45, 0.8) == 0.0                               # the whole eval set
    assert pp.sampling_error(15, 45, 0.8) == pytest.approx((0.16 / 15 * (30 / 45)) ** 0.5)


def test_the_held_out_slice_is_stratified_disjoint_and_leaves_every_class_in_train():
    examples = [Example(id=f"e{i}", line=i, prompt=f"t{i}", response="abc"[i % 3] if i < 27 else "d")
                for i in range(30)]
    rest, held = pp.holdout_split(examples, seed=0, by_label=True)
    assert {e.id for e in rest}.isdisjoint(e.id for e in held) and len(rest) + len(held) == 30
    assert {e.response for e in rest} == {"a", "b", "c", "d"}                 # every class still trains
    counts = {label: sum(e.response == label for e in held) for label in "abcd"}
    assert counts == {"a": 3, "b": 3, "c": 3, "d": 2}                          # 3 per class where it can
    assert pp.holdout_split(examples, seed=0, by_label=True) == (rest, held)


def test_plan_predictions_may_name_the_api_variants_of_its_approaches():
    base = {"task": "classification", "train": "t.jsonl", "eval": "e.jsonl", "approaches": ["zero-shot"],
            "predictions": [{"approach": "api-zero-shot", "metric": "f1_macro", "value": 0.5, "low": 0.4,
                             "high": 0.6, "basis": "measured"}]}
    api = {"base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key_env": "K"}
    assert Plan.model_validate({**base, "api_model": api}).predictions[0].approach == "api-zero-shot"
    with pytest.raises(ValueError, match="not among the plan's approaches"):
        Plan.model_validate(base)


def test_seconds_per_step_leave_out_the_first_step_of_a_short_run():
    from tunewise.eval.pilot_train import step_seconds

    # the first step ended 5 s in (the Trainer's start), the next four 1 s apart
    assert step_seconds([5.0, 6.0, 7.0, 8.0, 9.0], train_seconds=9.0, steps=5) == pytest.approx(1.0)
    # too few steps to leave one out: the run's average
    assert step_seconds([5.0, 6.0], train_seconds=6.0, steps=2) == pytest.approx(3.0)
    assert step_seconds([], train_seconds=6.0, steps=0) == pytest.approx(6.0)
