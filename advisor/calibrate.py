"""Estimates calibrated from the ledger: the measured/estimated ratio of memory and time of similar tuning
runs on this machine (same method, model and device kind), as `advisor.estimate.Calibration` objects,
the same ones a `--calibrate run.json` gives.

Similar means: the same method and model on the same kind of device; the most recent runs count, and
the median ratio is used, so one odd run does not swing the estimate.
"""
from __future__ import annotations

import statistics
from types import SimpleNamespace

from tunewise.advisor.estimate import FLOPS_PER_PARAM_TOKEN, Calibration, calibrate
from tunewise.core.ledger import Ledger, MeasuredRun

RECENT = 5


def as_training_run(run: MeasuredRun) -> SimpleNamespace:
    """The fields of a `TrainingRun` that `estimate.calibrate` reads, from a ledger row."""
    settings = run.settings
    config = {k: settings.get(k) for k in ("max_seq_len", "batch_size", "grad_accum")}
    return SimpleNamespace(method=run.approach, model=run.model or "", total_params=settings.get("total_params"),
                           peak_memory_mb=run.peak_memory_mb, steps=settings.get("steps") or 0,
                           train_seconds=run.train_seconds or 0.0, device=run.device or "cpu",
                           precision=settings.get("precision") or "fp32", config=config)


def ledger_calibrations(model: str | None, on_gpu: bool, skip: tuple[str, ...] = (),
                        ledger: Ledger | None = None) -> tuple[Calibration, ...]:
    """One calibration per tuning method with similar measured runs in the ledger (none when it is empty)."""
    ledger = ledger or Ledger()
    out = []
    for method in FLOPS_PER_PARAM_TOKEN:
        if method in skip:
            continue
        similar = [r for r in ledger.runs(kind="tune", approach=method, model=model)
                   if str(r.device or "cpu").startswith("cuda") == on_gpu and r.settings.get("total_params")]
        found = [calibrate(as_training_run(r), "ledger") for r in similar[:RECENT]]
        if not found:
            continue
        memory = [c.memory_factor for c in found if c.memory_factor is not None]
        timing = [c.time_factor for c in found if c.time_factor is not None]
        out.append(Calibration(method, statistics.median(memory) if memory else None,
                               statistics.median(timing) if timing else None,
                               f"ledger: {len(found)} measured {method} run{'s' if len(found) > 1 else ''}"))
    return tuple(out)


def estimate_sources(ranking) -> dict[str, str]:
    """Per approach: where its time and memory estimates came from ("formulas", or the measurement)."""
    return {r.approach: r.estimates.get("calibrated_from", "formulas") for r in ranking}
