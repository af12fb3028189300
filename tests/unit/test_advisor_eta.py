"""The phase estimates that weight compare's overall progress: proportional where they should be."""
from __future__ import annotations

from pathlib import Path

import pytest

from tunewise.advisor.estimate import Workload
from tunewise.advisor.eta import CompareSizes, phase_seconds, plan_sizes
from tunewise.core.schema import Plan

SIZES = CompareSizes(Workload(examples=75, mean_tokens=20.0, seq_len=512, prompt_tokens=20, labels=5), eval_examples=45)


def plan(task="classification", **extra) -> Plan:
    return Plan(task=task, train="t.jsonl", eval="e.jsonl", approaches=["zero-shot", "few-shot", "lora", "head"],
                **extra)


def test_phases_follow_the_work_each_approach_does():
    est = phase_seconds(plan(tuning={"max_steps": 40, "batch_size": 8}), ["zero-shot", "few-shot", "lora", "head"],
                        SIZES)
    assert set(est["zero-shot"]) == {"predict"} and set(est["lora"]) == {"train", "predict"}
    assert est["few-shot"]["predict"] > est["zero-shot"]["predict"] > est["head"]["predict"] > 0
    doubled = phase_seconds(plan(tuning={"max_steps": 80, "batch_size": 8}), ["lora"], SIZES)
    assert doubled["lora"]["train"] == pytest.approx(2 * est["lora"]["train"])
    assert est["lora"]["predict"] == pytest.approx(est["zero-shot"]["predict"])


def test_retrieval_and_drift_phases():
    qa = Plan(task="qa", train="t.jsonl", eval="e.jsonl", corpus="docs", approaches=["zero-shot", "rag"])
    work = Workload(examples=42, mean_tokens=30.0, seq_len=512, corpus_documents=30, prompt_tokens=30)
    est = phase_seconds(qa, ["zero-shot", "rag"], CompareSizes(work, eval_examples=34, drift_examples=10))
    assert est["rag"]["embed"] > 0 and "embed" not in est["zero-shot"]
    assert est["rag"]["drift"] == pytest.approx(est["rag"]["predict"] * 10 / 34)


def test_no_estimate_for_an_unknown_model_or_an_api_approach():
    assert phase_seconds(plan(model="/models/unknown"), ["zero-shot"], SIZES) is None
    assert phase_seconds(plan(), ["zero-shot", "api-zero-shot"], SIZES) is None


def test_sizes_are_read_from_the_plan_files():
    examples = Path(__file__).parents[2] / "examples"
    sizes = plan_sizes(Plan(task="classification", train=examples / "tickets-train.jsonl",
                            eval=examples / "tickets-eval.jsonl", approaches=["zero-shot"], limit_eval=20))
    assert (sizes.work.examples, sizes.eval_examples, sizes.work.labels) == (75, 20, 5)
    assert 5 < sizes.work.mean_tokens < 100
