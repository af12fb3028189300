"""Every approach of a plan on one eval set: same examples, same decoding, metrics and costs, resumable.

Layout of OUT (each file written atomically):
  compare.json              the plan and settings this folder belongs to
  predictions/NAME.jsonl    one line per eval example; every reported metric is recomputable from these
  predictions/drift/NAME.jsonl   the same on the questions about changed facts (knowledge drift)
  approaches/NAME.json      metrics and costs of a finished approach: its presence means "skip on resume"
  models/METHOD/            fine-tuned outputs; index/ and index-next/ the Chroma indexes
  results.json, report.md, report.html   written when every approach is done
"""
from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tunewise.core.config import load_config
from tunewise.core.data import Dataset, Document, Example, check_eval_labels, load_corpus, load_dataset
from tunewise.core.device import rss_mb
from tunewise.core.errors import ConfigError, DataError, DeviceError, OutputExistsError
from tunewise.core.files import check_apart, claim_output, mark_output, read_json, write_json
from tunewise.core.outputs import plan_inputs
from tunewise.eval.failures import check_any_finished, run_or_record_failure
from tunewise.core.schema import Plan
from tunewise.eval import metrics
from tunewise.eval.approaches import API_PREFIX, SYSTEM_PROMPTS, Built, LLMSystem, Progress, Workspace, rag_messages_for, spec_for

PROBES = Path(__file__).parent / "probes" / "general.jsonl"
PREDICT_BATCH = 8
DEFAULT_MAX_NEW_TOKENS = 32


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


def validate(plan_path: str | Path, only: Sequence[str] | None = None, overrides: Sequence[str] = ()) -> Inputs:
    """Everything that can be wrong with a plan is found here, before anything is written."""
    plan = load_plan(plan_path, overrides)
    names = _approach_names(plan, only)
    train = load_dataset(plan.train)
    evaluation = load_dataset(plan.eval)
    _check_task(plan, train, evaluation)
    specs = [spec_for(n) for n in names]
    for name, spec in zip(names, specs):
        if plan.task not in spec.tasks:
            raise ConfigError(f"{plan_path}: approach '{name}' does not apply to task '{plan.task}'")
        if spec.needs_corpus and plan.corpus is None:
            raise ConfigError(f"{plan_path}: approach '{name}' needs a 'corpus' folder in the plan")
    if any(s.gpu_only for s in specs) and not _has_cuda():
        gpu = next(n for n, s in zip(names, specs) if s.gpu_only)
        raise DeviceError(f"approach '{gpu}' needs a CUDA GPU and none is available; remove it from the plan")
    _check_tuning(plan, names)
    if any(n.startswith(API_PREFIX) for n in names):
        from tunewise.core.models import api_key

        api_key(plan.api_model)
    corpus = load_corpus(plan.corpus) if plan.corpus else None
    drift = plan.corpus_next is not None and plan.eval_next is not None and corpus is not None
    examples = list(evaluation.examples[: plan.limit_eval])
    return Inputs(plan, names, train, examples, corpus,
                  load_corpus(plan.corpus_next) if drift else None,
                  list(load_dataset(plan.eval_next).examples) if drift else None)


def _approach_names(plan: Plan, only: Sequence[str] | None) -> list[str]:
    names = list(dict.fromkeys(plan.approaches))
    if plan.api_model is not None:
        names += [API_PREFIX + n for n in names if spec_for(n).prompt_only]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ConfigError(f"--only: '{unknown[0]}' is not in this plan's approaches ({', '.join(names)})")
        names = [n for n in names if n in only]
    return names


def _check_task(plan: Plan, train: Dataset, evaluation: Dataset) -> None:
    for data in (train, evaluation):
        if plan.task == "classification" and data.format != "classification":
            raise DataError(data.path, f"task 'classification' needs text+label records, this file is {data.format}")
        if plan.task != "classification" and data.format == "classification":
            raise DataError(data.path, f"task '{plan.task}' needs prompt/answer records, this file is classification")
    if plan.task == "classification":
        check_eval_labels(train, evaluation)


def _check_tuning(plan: Plan, names: list[str]) -> None:
    from tunewise.eval.approaches import APPROACHES, tune_config

    for key, value in plan.tuning.items():
        if key in APPROACHES and not isinstance(value, dict):
            raise ConfigError(f"plan 'tuning.{key}' must be a mapping of tuning keys")
    for name in names:
        if name in ("lora", "qlora", "full", "prompt-tuning", "head"):
            tune_config(plan, name, "classification" if name == "head" else "sft", Path("."), "")


def _has_cuda() -> bool:
    from tunewise.core.device import gpu_inventory

    return bool(gpu_inventory())


def prepare_output(out: Path, plan: Plan, settings: dict, force: bool) -> None:
    """A finished folder is refused without --force; an unfinished one of the same plan is resumed."""
    stamp = {"plan": plan.model_dump(mode="json"), **settings}
    marker = out / "compare.json"
    if force:
        claim_output(out, force=True, inputs=plan_inputs(plan))
    elif (out / "results.json").exists():
        raise OutputExistsError(out)
    elif marker.exists():
        if read_json(marker) != stamp:
            raise ConfigError(f"{out} holds an unfinished comparison of a different plan; "
                              "use another --out or pass --force to start over")
        return
    elif out.exists() and (out.is_file() or any(out.iterdir())):
        raise OutputExistsError(out)
    mark_output(out, "compare")
    write_json(marker, stamp)


def run_compare(plan_path: str | Path, out: str | Path, force: bool = False, only: Sequence[str] | None = None,
                max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, progress: Progress | None = None,
                overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Run (or resume) the comparison and write results.json, report.md and report.html into `out`."""
    from tunewise.eval.report import assemble_results, write_report

    inputs = validate(plan_path, only, overrides)
    out = Path(out)
    check_apart(out, [plan_path, *plan_inputs(inputs.plan)])
    prepare_output(out, inputs.plan, {"max_new_tokens": max_new_tokens}, force)
    ws = Workspace(inputs.plan, inputs.train, inputs.corpus, out, max_new_tokens, progress, _device())
    finished: dict[str, dict] = {}
    for name in inputs.names:
        record = out / "approaches" / f"{name}.json"
        if not record.exists():
            result = run_or_record_failure(lambda: run_approach(ws, name, inputs), out, name)
            if result is None:
                continue
            write_json(record, result)
            gc.collect()
        finished[name] = read_json(record)
    failures = check_any_finished(out, finished)
    results = {**assemble_results(inputs.plan, finished), **({"failed": failures} if failures else {})}
    write_report(out, results)
    return results


def _device():
    from tunewise.core.device import choose_device

    return choose_device()


def run_approach(ws: Workspace, name: str, inputs: Inputs) -> dict[str, Any]:
    """Build one approach, answer every eval example, and return its metrics and costs."""
    spec = spec_for(name)
    api = name.startswith(API_PREFIX)
    with PeakMemory() as memory:
        built = spec.build(ws, model=ws.plan.api_model) if api else spec.build(ws)
        rows = predict_rows(ws, name, built.system, inputs.evaluation)
    write_jsonl(ws.out / "predictions" / f"{name}.jsonl", rows)
    record = {
        "metrics": metrics.task_metrics(ws.task, rows),
        "costs": costs(ws.plan, built, rows, memory.peak_mb, api, on_gpu=ws.device.is_cuda),
        "losses": built.losses,
        "notes": built.notes,
        "examples": len(rows),
    }
    if ws.task == "classification":
        record["per_class_f1"] = metrics.per_class_f1([r["reference"] for r in rows], [r["prediction"] for r in rows])
    if built.tuned_generator is not None:
        record["forgetting"] = forgetting(ws, built.tuned_generator)
    if inputs.eval_next is not None and isinstance(built.system, LLMSystem):
        record["drift"] = drift(ws, name, built, inputs)
    return record


def predict_rows(ws: Workspace, name: str, system, examples: Sequence[Example], stage: str = "predict") -> list[dict]:
    rows: list[dict] = []
    for start in range(0, len(examples), PREDICT_BATCH):
        batch = examples[start:start + PREDICT_BATCH]
        predictions = system.predict(batch)
        logprobs = system.reference_logprobs(batch) or [None] * len(batch)
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
    return row


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
    if api and prices.input_token_usd_per_1m is not None and tokens:
        out["usd_per_1k_queries"] = round(float(np.mean(tokens)) * prices.input_token_usd_per_1m / 1000, 4)
    return out


def probe_scores(generator, probes: Sequence[Example]) -> dict[str, float]:
    """General knowledge: multiple-choice accuracy by log-likelihood, and the answers' perplexity."""
    correct, pairs = 0, []
    for probe in probes:
        choices = probe.meta["choices"]
        scores = generator.loglikelihood(probe.prompt_messages(system=SYSTEM_PROMPTS["qa"]), choices)
        best = max(range(len(choices)), key=lambda i: scores[i][0])
        correct += choices[best] == probe.response
        pairs.append(scores[choices.index(probe.response)])
    return {"accuracy": round(correct / len(probes), 4), "perplexity": round(metrics.perplexity(pairs), 4)}


def forgetting(ws: Workspace, tuned) -> dict[str, float]:
    """The shipped probe set before (base model, scored once per folder) and after fine-tuning."""
    probes = list(load_dataset(PROBES).examples)
    cache = ws.out / "probes-base.json"
    if not cache.exists():
        write_json(cache, probe_scores(ws.generator(), probes))
    before, after = read_json(cache), probe_scores(tuned, probes)
    return {"probe_accuracy_before": before["accuracy"], "probe_accuracy_after": after["accuracy"],
            "probe_perplexity_before": before["perplexity"], "probe_perplexity_after": after["perplexity"]}


def drift(ws: Workspace, name: str, built: Built, inputs: Inputs) -> dict[str, Any]:
    """Score again on questions about changed facts: RAG after an incremental re-index, tuned models as
    they are (not retrained), with what catching up costs each way."""
    spec = spec_for(name)
    system = built.system
    if spec.needs_corpus:
        index, seconds, counts = ws.drift_index(inputs.corpus_next)
        system = LLMSystem(system.generator, ws.task, ws.labels, ws.max_new_tokens,
                           rag_messages_for(ws, system.generator, index))
        changed = counts["added"] + counts["updated"] + counts["deleted"]
        catch_up = {"seconds": round(seconds, 2),
                    "how": f"incremental re-index: {changed} changed documents, {counts['chunks_embedded']} chunks embedded"}
    elif built.tuned_generator is not None:
        catch_up = {"seconds": round(built.train_seconds, 2),
                    "how": "retrain with the new facts (not run here; the measured training time)"}
    else:
        catch_up = {"seconds": 0.0, "how": "nothing to update; the facts were never in the prompt"}
    rows = predict_rows(ws, name, system, inputs.eval_next, stage="drift")
    write_jsonl(ws.out / "predictions" / "drift" / f"{name}.jsonl", rows)
    return {"metrics": metrics.task_metrics(ws.task, rows), "catch_up": catch_up}


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
