"""Estimates calibrated from similar measured runs in the ledger, and said to be so."""
import pytest

from tests.fakes import invoke
from tunewise.advisor.calibrate import estimate_sources, ledger_calibrations
from tunewise.advisor.estimate import Hardware, shape_for, training_hours, training_memory_gb
from tunewise.advisor.records import Answers
from tunewise.advisor.rules import recommend
from tunewise.core.ledger import Ledger, MeasuredRun

MODEL = "smollm2-135m-instruct"


def tune_row(peak_mb: float, seconds: float, device: str = "cpu", model: str = MODEL) -> MeasuredRun:
    return MeasuredRun(kind="tune", approach="lora", model=model, device=device, peak_memory_mb=peak_mb,
                       train_seconds=seconds, settings={"max_seq_len": 256, "batch_size": 8, "steps": 40,
                                                        "total_params": 134_515_008, "precision": "fp32"})


def test_median_measured_over_estimated_from_similar_runs_only():
    ledger = Ledger()
    ledger.append_runs([tune_row(3000, 100), tune_row(4000, 120), tune_row(9000, 400),
                        tune_row(1, 1, device="cuda:0"), tune_row(1, 1, model="other")])
    (found,) = ledger_calibrations(MODEL, on_gpu=False)
    shape, hw = shape_for(0.134515008, MODEL), Hardware()
    assert found.method == "lora" and found.source == "ledger: 3 measured lora runs"
    assert found.memory_factor == pytest.approx(4000 / 1024 / training_memory_gb("lora", shape, 256, 8, hw))
    assert found.time_factor == pytest.approx(120 / 40 / (training_hours("lora", shape, 256 * 8, hw) * 3600))
    assert ledger_calibrations(MODEL, on_gpu=False, skip=("lora",)) == ()


def test_the_advice_says_which_estimates_are_measured():
    Ledger().append_runs([tune_row(4000, 120)])
    answers = Answers(task="classification", labelled_examples=300)
    rec = recommend(answers, model=MODEL, calibrations=ledger_calibrations(MODEL, on_gpu=False))
    sources = estimate_sources(rec.ranking)
    assert sources["lora"] == "ledger: 1 measured lora run" and sources["head"] == "formulas"
    text = " ".join(invoke(["advise", "--task", "classification", "--labelled-examples", "300"]).output.split())
    assert "calibrated from measurements: lora (ledger: 1 measured lora run)" in text


def test_an_empty_ledger_leaves_the_formulas():
    assert ledger_calibrations(MODEL, on_gpu=False) == ()
    text = " ".join(invoke(["advise", "--task", "qa"]).output.split())
    assert "Every estimate comes from the formulas" in text
