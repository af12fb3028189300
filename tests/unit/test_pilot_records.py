"""The pilot's pure helpers: budgets, ranking under limits, plain statements, rounded crossings, samples."""
import pytest

from tunewise.core.data import Example
from tunewise.core.errors import ConfigError
from tunewise.eval.pilot_sample import stratified
from tunewise.eval.pilot_records import (
    PilotPrediction, floor_lead_statements, parse_budget, rank_predictions, round_labels, separation_statements,
)


def prediction(name, value, low, high, within=True, basis="curve"):
    return PilotPrediction(approach=name, metric="f1_macro", value=value, low=low, high=high, basis=basis,
                           at_labels=75, within_limits=within)


@pytest.mark.parametrize("text, seconds", [("10m", 600), ("90s", 90), ("1.5h", 5400), ("45", 45)])
def test_budgets_parse(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0", "-5m", "10 minutes"])
def test_bad_budgets_are_one_clear_error(text):
    with pytest.raises(ConfigError, match="not a duration"):
        parse_budget(text)


def test_ranking_puts_limits_first_then_quality_then_speed():
    ranked = rank_predictions([prediction("lora", 0.9, 0.8, 1.0, within=False), prediction("head", 0.851, 0.7, 0.95),
                               prediction("few-shot", 0.849, 0.7, 0.95)], {"head": 50.0, "few-shot": 1600.0})
    assert [p.approach for p in ranked] == ["head", "few-shot", "lora"]


def test_a_floor_inside_the_leaders_interval_leads():
    # the WordNet definitions pilot: LoRA's 3-step floor inside few-shot's interval; compare measured LoRA best
    few_shot, zero_shot = prediction("few-shot", 0.186, 0.082, 0.367, basis="measured"), prediction("zero-shot", 0.13, 0.06, 0.32)
    lora = prediction("lora", 0.167, 0.082, 1.0, basis="last-point")
    ranked = rank_predictions([few_shot, lora, zero_shot], {})
    assert [p.approach for p in ranked] == ["lora", "few-shot", "zero-shot"]
    assert "lora leads although few-shot measured higher" in floor_lead_statements(ranked)[0]
    # the ticket pilot: LoRA's floor far below few-shot's interval stays where its value puts it
    far = rank_predictions([prediction("few-shot", 1.0, 0.78, 1.0), prediction("lora", 0.175, 0.1, 1.0, basis="last-point")], {})
    assert [p.approach for p in far] == ["few-shot", "lora"] and floor_lead_statements(far) == []
    # a floor outside the user's limits never overtakes one within them
    out = rank_predictions([few_shot, prediction("lora", 0.18, 0.08, 1.0, within=False, basis="last-point")], {})
    assert out[0].approach == "few-shot"


def test_statements_say_when_the_sample_cannot_separate():
    close = separation_statements([prediction("head", 0.9, 0.7, 1.0), prediction("few-shot", 0.8, 0.6, 0.95)], 10)
    assert "sample of 10 examples is too small to separate head" in close[0] and "few-shot (0.80" in close[0]
    clear = separation_statements([prediction("head", 0.9, 0.85, 1.0), prediction("zero-shot", 0.3, 0.1, 0.5)], 10)
    assert "head leads clearly" in clear[0]


def test_crossings_are_rounded_to_two_figures():
    assert [round_labels(x) for x in (42.4, 1987.0, 23456.0)] == [42, 2000, 23000]


def test_the_sample_is_stratified_by_label():
    examples = [Example(id=f"e{i}", line=i, prompt=f"t{i}", response="ab"[i % 4 == 0]) for i in range(20)]
    picked = stratified(examples, 6, seed=0, by_label=True)
    assert len(picked) == 6 and sum(e.response == "b" for e in picked) == 3
    assert stratified(examples, 6, seed=0, by_label=True) == picked


def test_the_untrained_anchor_joins_a_tuned_lms_points_on_the_same_prefix_of_the_sample():
    from tunewise.eval.pilot_predict import points_with_anchor
    from tunewise.eval.pilot_sample import Measured

    rows = lambda n, tag: [{"id": f"{tag}{i}"} for i in range(n)]  # noqa: E731
    # zero-shot answered 45 (the whole eval set), the LoRA short runs 15 of the same order
    measured = Measured(rows={"zero-shot": [rows(45, "z")], "lora": [rows(15, "a"), rows(15, "b")]},
                        x={"zero-shot": [0], "lora": [40, 160]})
    xs, found = points_with_anchor(measured, "lora")
    assert xs == [0, 40, 160] and [len(r) for r in found] == [15, 15, 15]
    assert found[0] == rows(15, "z")                                   # the prefix: the same examples
    # an anchor measured on fewer examples than the runs is no anchor for them
    measured.rows["zero-shot"] = [rows(10, "z")]
    assert points_with_anchor(measured, "lora")[0] == [40, 160]


def test_seconds_per_answer_come_from_full_batches_after_the_first():
    from tunewise.eval.pilot_sample import Measured

    measured = Measured()
    measured.time_answers("zero-shot", [(8, 5.0)])               # the first batch carries one-time work
    assert measured.answer_s["zero-shot"] == pytest.approx(5.0 / 8)
    measured.time_answers("zero-shot", [(8, 2.0), (8, 2.2), (3, 1.5)])   # a partial batch costs near a full one
    assert measured.answer_s["zero-shot"] == pytest.approx(4.2 / 16)
    measured.time_answers("lora", [(8, 4.0), (5, 2.0)])          # no full batch after the first: per answer
    assert measured.answer_s["lora"] == pytest.approx(0.4)
    measured.time_answers("lora", [(8, 3.0), (8, 1.6)], fresh=True)   # a later short run's model replaces it
    assert measured.batches["lora"] == [(8, 3.0), (8, 1.6)] and measured.answer_s["lora"] == pytest.approx(0.2)


def test_a_short_run_that_did_not_rise_ranks_by_its_value():
    # the Debian package questions: RAG + LoRA's short run level with RAG's score does not lead it
    rag = prediction("rag", 0.26, 0.12, 0.55, basis="measured")
    ranked = rank_predictions([rag, prediction("rag+lora", 0.256, 0.12, 1.0, basis="flat")], {})
    assert [p.approach for p in ranked] == ["rag", "rag+lora"] and floor_lead_statements(ranked) == []
