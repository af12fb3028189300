"""Every approach of a plan on one eval set: same examples, same decoding, metrics and costs, resumable.

Layout of OUT (each file written atomically):
  compare.json              the plan and settings this folder belongs to
  predictions/NAME.jsonl    one line per eval example; every reported metric is recomputable from these
  predictions/drift/NAME.jsonl   the same on the questions about changed facts (knowledge drift)
  approaches/NAME.json      an `ApproachResult` (metrics and costs): its presence means "skip on resume"
  models/NAME/              fine-tuned outputs; index/ and index-next/ the Chroma indexes
  results.json, report.md, report.html   a `Comparison` and its report, written when every approach is done

A plan's path through here: `validate` (everything checked before anything is written), then for each
approach `run_approach` (its registered `build`, then `predict_rows`), then the report.
"""
from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tunewise.core import registry
from tunewise.core.config import load_config
from tunewise.core.data import Dataset, Document, Example, check_eval_labels, load_corpus, load_dataset
from tunewise.core.defaults import MAX_NEW_TOKENS
from tunewise.core.device import rss_mb
from tunewise.core.errors import ConfigError, DataError, DeviceError, OutputExistsError
from tunewise.core.files import check_apart, claim_output, mark_output, read_json, write_json
from tunewise.core.outputs import plan_inputs
from tunewise.core.reading import ReadPolicy
from tunewise.core.results import ApproachResult, Comparison, PredictionRow
from tunewise.eval.failures import check_any_finished, run_or_record_failure
from tunewise.core.schema import Plan
from tunewise.eval import metrics
from tunewise.eval.checks import drift, forgetting
from tunewise.eval.evidence import record_measured
from tunewise.eval.safety import safety_record
from tunewise.eval.systems import LLMSystem
from tunewise.eval.workspace import Built, Progress, Workspace, build_approach, tune_config

PREDICT_BATCH = 8
DEFAULT_MAX_NEW_TOKENS = MAX_NEW_TOKENS


@dataclass
class Inputs:
    plan: Plan
    names: list[str]
    train: Dataset
    evaluation: list[Example]
    corpus: list[Document] | None
    corpus_next: list[Document] | None
    eval_next: list[Example] | None


def load_plan(path: str | Path, overrides: Sequence[str] = ()) -> Plan:
    """The plan file with `key=value` overrides (`tuning.max_steps=40`); paths relative to its folder."""
    path = Path(path)
    return load_config(Plan, path, overrides).resolve_paths(path.parent.resolve())


def validate(plan_path: str | Path, only: Sequence[str] | None = None, overrides: Sequence[str] = (),
             reading: ReadPolicy = ReadPolicy()) -> Inputs:
    """Everything that can be wrong with a plan is found here, before anything is written; the corpus
    snapshots are read under `reading`."""
    plan = load_plan(plan_path, overrides)
    names = approach_names(plan, only)
    train = load_dataset(plan.train)
    evaluation = load_dataset(plan.eval)
    _check_task(plan, train, evaluation)
    for name in names:
        _check_approach(plan_path, plan, name)
    if any(registry.split_api(n)[1] for n in names):
        from tunewise.core.models import api_key

        api_key(plan.api_model)
    corpus = load_corpus(plan.corpus, reading) if plan.corpus else None
    drift_check = plan.corpus_next is not None and plan.eval_next is not None and corpus is not None
    examples = list(evaluation.examples[: plan.limit_eval])
    return Inputs(plan, names, train, examples, corpus,
                  load_corpus(plan.corpus_next, reading) if drift_check else None,
                  list(load_dataset(plan.eval_next).examples) if drift_check else None)


def approach_names(plan: Plan, only: Sequence[str] | None) -> list[str]:
    names = list(dict.fromkeys(plan.approaches))
    if plan.api_model is not None:
        names += [registry.API_PREFIX + n for n in names if registry.spec(n).api]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ConfigError(f"--only: '{unknown[0]}' is not in this plan's approaches ({', '.join(names)})")
        names = [n for n in names if n in only]
    return names


def _check_approach(plan_path, plan: Plan, name: str) -> None:
    spec = registry.spec(name)
    if plan.task not in spec.tasks:
        raise ConfigError(f"{plan_path}: approach '{name}' does not apply to task '{plan.task}'")
    if spec.retrieves and plan.corpus is None:
        raise ConfigError(f"{plan_path}: approach '{name}' needs a 'corpus' folder in the plan")
    if "gpu" in spec.needs and not _has_cuda():
        raise DeviceError(f"approach '{name}' needs a CUDA GPU and none is available; remove it from the plan")
    if "preferences" in spec.needs and plan.preferences is None:
        raise ConfigError(f"{plan_path}: approach '{name}' needs a 'preferences' file in the plan "
                          "(prompt, chosen, rejected pairs)")
    if spec.tuned:
        tune_config(plan, name, Path("."), "")
    if spec.check is not None:
        spec.check(plan)


def _check_task(plan: Plan, train: Dataset, evaluation: Dataset) -> None:
    for data in (train, evaluation):
        if plan.task == "classification" and data.format != "classification":
            raise DataError(data.path, f"task 'classification' needs text+label records, this file is {data.format}")
        if plan.task != "classification" and data.format == "classification":
            raise DataError(data.path, f"task '{plan.task}' needs prompt/answer records, this file is classification")
    if plan.task == "classification":
        check_eval_labels(train, evaluation)


def _has_cuda() -> bool:
    from tunewise.core.device import gpu_inventory

    return bool(gpu_inventory())


def prepare_output(out: Path, plan: Plan, settings: dict, force: bool) -> None:
    """A folder of the same plan, finished or not, is reused (finished approaches are kept); --force redoes."""
    stamp = {"plan": plan.model_dump(mode="json"), **settings}
    marker = out / "compare.json"
    if force:
        claim_output(out, force=True, inputs=plan_inputs(plan))
    elif marker.exists():
        if read_json(marker) != stamp:
            raise ConfigError(f"{out} holds a comparison of a different plan; "
                              "use another --out or pass --force to start over")
        return
    elif out.exists() and (out.is_file() or any(out.iterdir())):
        raise OutputExistsError(out)
    mark_output(out, "compare")
    write_json(marker, stamp)


def run_compare(plan_path: str | Path, out: str | Path, force: bool = False, only: Sequence[str] | None = None,
                max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, progress: Progress | None = None,
                overrides: Sequence[str] = (), reading: ReadPolicy = ReadPolicy()) -> Comparison:
    """Run (or resume) the comparison and write results.json, report.md and report.html into `out`; the
    rag approaches index the corpus as read under `reading`."""
    from tunewise.eval.evidence import judge_comparison
    from tunewise.eval.report import assemble_results, write_report

    inputs = validate(plan_path, only, overrides, reading)
    out = Path(out)
    check_apart(out, [plan_path, *plan_inputs(inputs.plan)])
    prepare_output(out, inputs.plan, {"max_new_tokens": max_new_tokens}, force)
    ws = Workspace(inputs.plan, inputs.train, inputs.corpus, out, max_new_tokens, progress, _device())
    finished: dict[str, ApproachResult] = {}
    for done, name in enumerate(inputs.names):
        ws.progress("compare", done, len(inputs.names))
        path = out / "approaches" / f"{name}.json"
        if path.exists():
            finished[name] = ApproachResult.load(path)
            ws.progress(f"{name}: reused", 1, 1)
            continue
        result = run_or_record_failure(lambda: run_approach(ws, name, inputs), out, name)
        if result is not None:
            finished[name] = result
            result.save(path)
            gc.collect()
    ws.progress("compare", len(inputs.names), len(inputs.names))
    failures = check_any_finished(out, finished)
    results = assemble_results(inputs.plan, finished).model_copy(update={"failed": failures})
    results = judge_comparison(out, inputs.plan, results)
    write_report(out, results)
    return results


def _device():
    from tunewise.core.device import choose_device

    return choose_device()


def run_approach(ws: Workspace, name: str, inputs: Inputs) -> ApproachResult:
    """Build one approach through its registered `build`, answer every eval example, measure it."""
    api = registry.split_api(name)[1]
    with PeakMemory() as memory:
        built = build_approach(ws, name)
        rows = predict_rows(ws, name, built.system, inputs.evaluation)
    write_jsonl(ws.out / "predictions" / f"{name}.jsonl", rows)
    result = ApproachResult(
        metrics=metrics.task_metrics(ws.task, rows),
        costs=costs(ws.plan, built, rows, memory.peak_mb, api, on_gpu=ws.device.is_cuda),
        losses=built.losses, notes=built.notes, examples=len(rows), device=ws.device.device,
    )
    if ws.task == "classification":
        result.per_class_f1 = metrics.per_class_f1([r["reference"] for r in rows], [r["prediction"] for r in rows])
    if built.tuned_generator is not None:
        result.forgetting = forgetting(ws, built.tuned_generator)
    result = ApproachResult.model_validate({**result.model_dump(), **built.extra})
    result.safety = safety_record(ws, registry.spec(name), built, inputs.evaluation)
    if inputs.eval_next is not None and isinstance(built.system, LLMSystem):
        def predict(system, examples):
            drift_rows = predict_rows(ws, name, system, examples, stage="drift")
            write_jsonl(ws.out / "predictions" / "drift" / f"{name}.jsonl", drift_rows)
            return drift_rows

        result.drift = drift(ws, name, built, inputs.corpus_next, inputs.eval_next, predict)
    record_measured(ws, name, result)
    return result


def predict_rows(ws: Workspace, name: str, system, examples: Sequence[Example], stage: str = "predict",
                 timings: list[tuple[int, float]] | None = None) -> list[dict]:
    """Answer `examples` in batches of PREDICT_BATCH; `timings` (when given) gets each batch's (size, seconds)."""
    rows: list[dict] = []
    for start in range(0, len(examples), PREDICT_BATCH):
        batch = examples[start:start + PREDICT_BATCH]
        started = time.monotonic()
        predictions = system.predict(batch)
        logprobs = system.reference_logprobs(batch) or [None] * len(batch)
        if timings is not None:
            timings.append((len(batch), time.monotonic() - started))
        rows.extend(_row(e, p, lp) for e, p, lp in zip(batch, predictions, logprobs))
        ws.progress(f"{name}: {stage}", len(rows), len(examples))
    return rows


def _row(example: Example, prediction, logprob) -> dict[str, Any]:
    row = {"id": example.id, "input": example.prompt, "reference": example.response,
           "prediction": prediction.text, "latency_ms": prediction.latency_ms,
           "prompt_tokens": prediction.prompt_tokens}
    if logprob is not None:
        row["ref_logprob"], row["ref_tokens"] = round(logprob[0], 6), logprob[1]
    if prediction.retrieved is not None:
        row["retrieved"] = prediction.retrieved
    if example.source:
        row["source"] = example.source
    if prediction.confidence is not None:
        row["confidence"] = prediction.confidence
    if prediction.completion_tokens is not None:
        row["completion_tokens"] = prediction.completion_tokens
    return PredictionRow.model_validate(row).model_dump(mode="json", exclude_unset=True)


def costs(plan: Plan, built: Built, rows: list[dict], peak_mb: float, api: bool = False,
          on_gpu: bool = False) -> dict[str, float]:
    """The costs a team decides on; money only where the plan gives prices (the hour rate of the device
    the run actually used)."""
    import numpy as np

    latency = [r["latency_ms"] for r in rows]
    tokens = [r["prompt_tokens"] for r in rows if r["prompt_tokens"] is not None]
    out = {
        "train_seconds": round(built.train_seconds, 2),
        "peak_memory_mb": round(max(peak_mb, built.peak_memory_mb or 0.0), 1),
        "latency_ms_p50": round(float(np.percentile(latency, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(latency, 95)), 2),
        "storage_mb": round(built.storage_mb, 3),
    }
    if tokens:
        out["prompt_tokens"] = round(float(np.mean(tokens)), 1)
    prices = plan.prices
    hour = prices.gpu_hour_usd if on_gpu else prices.cpu_hour_usd
    if hour is not None:
        out["train_usd"] = round(built.train_seconds / 3600 * hour, 4)
        if not api:
            out["usd_per_1k_queries"] = round(out["latency_ms_p50"] / 3.6e6 * hour * 1000, 4)
    completion = [r.get("completion_tokens") or 0 for r in rows]
    per_answer = prices.tokens_usd(float(np.mean(tokens)), float(np.mean(completion))) if api and tokens else None
    if per_answer is not None:
        out["usd_per_1k_queries"] = round(per_answer * 1000, 4)
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    import json

    from tunewise.core.files import atomic_write_text

    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


class PeakMemory:
    """The process's peak resident memory while the block runs, sampled every 50 ms (CPU and GPU runs)."""

    def __init__(self, interval_s: float = 0.05):
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> "PeakMemory":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_mb())
            if self._stop.wait(self.interval_s):
                return
