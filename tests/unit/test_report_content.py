"""What the report says, checked on values: the verdict's margin and interval, the small-sample
caveat, units on every cost, forgetting and drift explained, stable colours, no one-point plots,
file modes, and one line for a comparison with nothing to report."""
from __future__ import annotations

import json
import os
import random
import stat

import pytest

from tunewise.core.schema import Plan
from tunewise.eval.intervals import bootstrap_interval
from tunewise.eval.plots import colour_for, report_plots
from tunewise.eval.report import assemble_results, sections, view, write_report
from tests.fakes import assert_clean_failure, invoke

LABELS = ["refund", "freight", "timetable"]


def predictions(n: int, right: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        reference = LABELS[i % 3]
        prediction = reference if rng.random() < right else LABELS[(i + 1) % 3]
        rows.append({"id": f"e{i}", "input": "x", "reference": reference, "prediction": prediction,
                     "latency_ms": 5.0, "prompt_tokens": 40})
    return rows


def comparison(tmp_path, n: int, prices: bool = False, **extra):
    """Two approaches with real prediction files; metrics computed from them as the runner does."""
    from tunewise.eval.metrics import task_metrics

    rows = {"zero-shot": predictions(n, 0.45, 1), "head": predictions(n, 0.85, 2)}
    approaches = {}
    for name, r in rows.items():
        (tmp_path / "predictions").mkdir(exist_ok=True)
        (tmp_path / "predictions" / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in r))
        costs = {"train_seconds": 75.0 if name == "head" else 0.0, "peak_memory_mb": 1536.0,
                 "latency_ms_p50": 5.0 if name == "head" else 420.0, "latency_ms_p95": 9.0, "storage_mb": 2.5}
        if prices:
            costs.update(train_usd=0.0208, usd_per_1k_queries=0.0014)
        approaches[name] = {"metrics": task_metrics("classification", r), "costs": costs, "losses": [[1, 2.0]],
                            "notes": [], "examples": n, **extra.get(name, {})}
    plan = Plan(task="classification", train="t.jsonl", eval="e.jsonl", approaches=list(rows))
    return assemble_results(plan, approaches), rows


def report_text(tmp_path, results) -> str:
    write_report(tmp_path, results)
    return (tmp_path / "report.md").read_text(encoding="utf-8")


def test_verdict_says_what_won_by_how_much_with_intervals_and_a_small_sample_caveat(tmp_path):
    results, rows = comparison(tmp_path, 30)
    text = report_text(tmp_path, results)
    head, zero = (results.approaches[n].metrics["f1_macro"] for n in ("head", "zero-shot"))
    interval = bootstrap_interval("classification", "f1_macro", rows["head"])
    assert interval["low"] <= head <= interval["high"] < 1.0
    assert (f"head won on macro F1 (0 to 1, higher is better): {head:.3f} (95% interval {interval['low']:.3f} to "
            f"{interval['high']:.3f}) against {zero:.3f}") in text
    assert f"a lead of {head - zero:.3f} on the same 30 examples" in text
    assert "Caveat: 30 eval examples is a small set (under 100)" in text
    assert "1000 resamples, seed 0" in text
    assert "intervals" not in json.loads((tmp_path / "results.json").read_text())   # recomputable, not stored


def test_no_caveat_on_a_larger_eval_set(tmp_path):
    results, _ = comparison(tmp_path, 150)
    text = report_text(tmp_path, results)
    assert "head won on macro F1" in text and "Caveat" not in text


def test_costs_in_time_and_memory_without_prices_and_in_money_with_them(tmp_path):
    results, _ = comparison(tmp_path, 30)
    text = report_text(tmp_path, results)
    assert "The plan gives no prices" in text
    assert "head: 1.2 min to build, 1.50 GB peak memory, 5.0 ms per answer (median), 2.50 MB on disk." in text
    assert "zero-shot: nothing to build, 1.50 GB peak memory, 420 ms per answer (median)" in text
    priced, _ = comparison(tmp_path, 30, prices=True)
    text = report_text(tmp_path, priced)
    assert "Money from the plan's prices" in text and "$0.021 to train, $0.0014 per 1,000 answers" in text


def test_forgetting_and_drift_are_explained_in_a_sentence_each(tmp_path):
    forgetting = {"probe_accuracy_before": 0.5, "probe_accuracy_after": 0.4167,
                  "probe_perplexity_before": 9.0, "probe_perplexity_after": 9.5}
    drift = {"metrics": {"f1_macro": 0.3}, "catch_up": {"seconds": 75.0, "how": "retrain"}}
    results, _ = comparison(tmp_path, 30, head={"forgetting": forgetting, "drift": drift})
    text = report_text(tmp_path, results)
    assert "Forgetting is what fine-tuning cost the model's general knowledge: the share of 24" in text
    assert "head 0.500 before, 0.417 after (-0.0833)" in text
    assert "Knowledge drift is how each approach copes when the documents change" in text
    assert "macro F1 on those: head 0.300 (catching up: 1.2 min)" in text


def test_colours_are_fixed_per_approach_and_one_point_loss_curves_are_not_drawn(tmp_path):
    assert colour_for("lora") == colour_for("lora") != colour_for("rag")
    assert colour_for("api-few-shot") == colour_for("few-shot")
    assert colour_for("my-approach").startswith("#")
    results = view(comparison(tmp_path, 30)[0])     # every loss curve has one point
    assert set(report_plots(results)) == {"quality_vs_cost"}
    results["approaches"]["head"]["losses"] = [[1, 2.0], [2, 1.5]]
    assert "loss_curves" in report_plots(results)


def test_report_files_are_readable_by_the_group(tmp_path):
    results, _ = comparison(tmp_path, 30)
    previous = os.umask(0o022)
    try:
        write_report(tmp_path, results)
    finally:
        os.umask(previous)
    for name in ("report.md", "report.html", "results.json", "plots/quality_vs_cost.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_an_empty_comparison_is_one_line():
    results = {"task": "qa", "primary_metric": "token_f1", "approaches": {}}
    assert sections(results) == [("Comparison", "No approach finished in this comparison, so there is nothing "
                                                "to report.", None)]


@pytest.mark.parametrize("setup, message", [
    (lambda out: None, "holds no comparison (no compare.json)"),
    (lambda out: (out / "compare.json").write_text("{}"), "has no finished approach"),
    (lambda out: ((out / "compare.json").write_text("{}"), (out / "approaches").mkdir(),
                  (out / "approaches" / "head.json").write_text("{}")), "is unfinished (finished so far: head)"),
])
def test_report_of_a_folder_without_results_says_why_in_one_line(tmp_path, setup, message):
    out = tmp_path / "out"
    out.mkdir()
    setup(out)
    assert_clean_failure(invoke(["report", str(out)]), message)


def test_report_command_rewrites_a_finished_report(tmp_path):
    results, _ = comparison(tmp_path, 30)
    write_report(tmp_path, results)
    (tmp_path / "compare.json").write_text("{}")
    (tmp_path / "approaches").mkdir()
    (tmp_path / "approaches" / "head.json").write_text("{}")
    (tmp_path / "report.md").unlink()
    result = invoke(["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "head won on macro F1" in (tmp_path / "report.md").read_text()
