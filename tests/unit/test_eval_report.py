"""The report from a results dict: winner, disagreement reasons, tables, self-contained HTML."""
import json

import pytest

from tunewise.core.schema import Plan
from tunewise.eval.report import assemble_results, comparison_rows, pick_winner, write_report


def record(f1, latency, train=0.0, **extra):
    return {"metrics": {"accuracy": f1, "f1_macro": f1}, "examples": 10, "losses": [], "notes": [],
            "costs": {"train_seconds": train, "peak_memory_mb": 500.0, "latency_ms_p50": latency,
                      "latency_ms_p95": latency * 2, "prompt_tokens": 40.0, "storage_mb": 0.0}, **extra}


def plan(**extra):
    return Plan(task="classification", train="t.jsonl", eval="e.jsonl", approaches=["zero-shot", "head"], **extra)


def test_winner_is_best_primary_metric_then_fastest():
    approaches = {"zero-shot": record(0.3, 50), "head": record(0.8, 5), "lora": record(0.8, 20)}
    assert pick_winner(approaches, "f1_macro") == "head"
    assert pick_winner({"a": {"metrics": {"perplexity": 9.0}, "costs": {"latency_ms_p50": 1}},
                        "b": {"metrics": {"perplexity": 3.0}, "costs": {"latency_ms_p50": 1}}}, "perplexity") == "b"


def test_advisor_disagreement_is_explained_in_numbers():
    approaches = {"zero-shot": record(0.3, 50), "head": record(0.8, 5, train=12.0)}
    results = assemble_results(plan(recommendation="zero-shot", reasons=["no training data budget"]), approaches)
    assert results.winner == "head" and results.recommendation == "zero-shot"
    assert "head scored macro F1 0.800 against 0.300 for the advised zero-shot" in results.disagreement[0]
    assert any("training time: head 12 s vs zero-shot 0 s" in r for r in results.disagreement)


def test_agreement_and_missing_advice():
    approaches = {"zero-shot": record(0.3, 50), "head": record(0.8, 5)}
    assert assemble_results(plan(recommendation="head"), approaches).disagreement == []
    results = assemble_results(plan(), approaches)
    assert results.recommendation == "head" and results.advisor["recommendation"] is None


def test_table_marks_the_winner_and_omits_absent_metrics():
    results = assemble_results(plan(), {"zero-shot": record(0.3, 50), "head": record(0.8, 5)})
    header, rows = comparison_rows(results)
    assert header[:3] == ["approach", "accuracy", "macro F1"] and "token F1" not in header
    assert rows[1][0] == "head *" and rows[0][0] == "zero-shot"


def test_written_report_is_self_contained(tmp_path):
    head = record(0.8, 5, train=3.0, losses=[[1, 2.0], [2, 1.5]], per_class_f1={"a": 0.9, "b": 0.7},
                  forgetting={"probe_accuracy_before": 0.5, "probe_accuracy_after": 0.45,
                              "probe_perplexity_before": 9.0, "probe_perplexity_after": 9.5})
    results = assemble_results(plan(), {"zero-shot": record(0.3, 50, per_class_f1={"a": 0.5, "b": 0.1}), "head": head})
    write_report(tmp_path, results)
    assert json.loads((tmp_path / "results.json").read_text())["winner"] == "head"
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    assert "src='http" not in html and "<link" not in html
    md = (tmp_path / "report.md").read_text()
    assert "## Catastrophic forgetting" in md and "| head | 0.500 | 0.450 | 9.00 | 9.50 |" in md
    for name in ("quality_vs_cost", "loss_curves", "per_class_f1"):
        assert (tmp_path / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_money_uses_the_hour_rate_of_the_device_that_ran():
    from tunewise.core.schema import Plan, Prices
    from tunewise.eval.workspace import Built
    from tunewise.eval.runner import costs

    plan = Plan(task="qa", train="t", eval="e", approaches=["lora"],
                prices=Prices(cpu_hour_usd=0.1, gpu_hour_usd=2.0))
    rows = [{"latency_ms": 360.0, "prompt_tokens": 10}, {"latency_ms": 360.0, "prompt_tokens": 20}]
    built = Built(system=None, train_seconds=1800.0)
    on_cpu = costs(plan, built, rows, peak_mb=100.0)
    on_gpu = costs(plan, built, rows, peak_mb=100.0, on_gpu=True)
    assert (on_cpu["train_usd"], on_gpu["train_usd"]) == (0.05, 1.0)
    assert on_cpu["usd_per_1k_queries"] == 0.01  # 360 ms a query at $0.10/h, times 1000
    assert on_cpu["prompt_tokens"] == 15.0 and on_cpu["latency_ms_p50"] == 360.0


def test_an_api_answer_costs_its_prompt_and_its_completion_tokens():
    """As route train prices it (core/schema.py Prices.tokens_usd); without an output price it is unknown,
    never its prompt alone."""
    from tunewise.core.schema import Plan, Prices
    from tunewise.eval.runner import costs
    from tunewise.eval.workspace import Built

    rows = [{"latency_ms": 500.0, "prompt_tokens": 1000, "completion_tokens": 100},
            {"latency_ms": 500.0, "prompt_tokens": 3000, "completion_tokens": 300}]
    priced = Plan(task="qa", train="t", eval="e", approaches=["zero-shot"],
                  prices=Prices(input_token_usd_per_1m=2.0, output_token_usd_per_1m=8.0))
    # (2,000 prompt tokens x $2 + 200 completion tokens x $8) per 1M, times 1,000 answers
    assert costs(priced, Built(system=None), rows, peak_mb=1.0, api=True)["usd_per_1k_queries"] == 5.6
    prompt_only = priced.model_copy(update={"prices": Prices(input_token_usd_per_1m=2.0)})
    assert "usd_per_1k_queries" not in costs(prompt_only, Built(system=None), rows, peak_mb=1.0, api=True)

