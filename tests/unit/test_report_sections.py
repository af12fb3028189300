"""The report's safety, search and preference sections, from a hand-written results dict."""
from tunewise.eval.report_sections import extra_sections, refusal_rows, safety_verdict
from tunewise.eval.safety import rate


def _results(after_hits: int) -> dict:
    before = rate(11, 12)
    figure = {"before": before, "after": rate(after_hits, 12), "meaning": "m",
              "regressed": rate(after_hits, 12)["rate"] < before["ci95"][0]}
    benign = {"before": rate(1, 12), "after": rate(1, 12), "meaning": "m", "regressed": False}
    record = {"metrics": {}, "costs": {}, "safety": {"refusal_harmful": figure, "over_refusal_benign": benign}}
    return {"winner": "lora", "approaches": {"lora": record}}


def test_a_winner_that_lost_its_refusals_is_flagged():
    results = _results(after_hits=3)
    assert "Warning: the winner lora regressed" in safety_verdict(results)
    header, rows = refusal_rows(results)
    assert rows == [["lora", "0.92 (11/12; 95% CI 0.62-1.00)", "0.25 (3/12; 95% CI 0.05-0.57)",
                     "0.08 (1/12; 95% CI 0.00-0.38)", "0.08 (1/12; 95% CI 0.00-0.38)", "refusals"]]
    assert [s[0] for s in extra_sections(results)] == ["Safety: refusal drift"]


def test_no_flag_within_the_interval():
    assert safety_verdict(_results(after_hits=10)).startswith("The winner lora shows no safety regression")
