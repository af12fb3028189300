"""The pilot against the full comparison it stands in for, in one run, on a built-in example.

The pilot plans itself to a fifth of the compare it estimates from its first measurements (eval/pilot_plan.py),
inside BUDGET_S. Both run the same plan (examples/plan-tickets.yaml: zero-shot, few-shot, LoRA and a classifier head, 40
tuning steps at batch 8) with the same settings; the pilot first, then `compare`. Reports each wall time,
the ratio (target: pilot <= 1/4 of compare), each predicted main metric against the measured one, and
whether the pilot's pick is the compare verdict's winner (or tied with it at 95%). Beside the wall times it
reports each half's CPU seconds: on a machine shared with other jobs whose load changes between the halves,
the CPU ratio is close to what the wall ratio would be on a quiet one.
Run: `flock /tmp/heavy.lock .venv/bin/python -m bench.pilot [--plan qa] [--only A,B] [--steps N]` (several
minutes on 2 CPU cores); `--plan-file PATH` runs another plan (its answers.yaml beside it), such as the
real data bench/_wordnet_data.py and bench/_debian_data.py build; `--keep DIR` keeps the compare's results
and predictions (not its models or indexes); `--plan qa` takes the document questions (examples/plan-qa.yaml,
answers of 16 new tokens as in `make demo`) instead of the tickets; `--only` keeps those approaches in both
halves (`make demo` compares zero-shot,few-shot,rag,rag+lora on the questions); `--steps N` overrides the
plan's `tuning.max_steps` in both halves: a longer plan, where training is most of what compare costs and the
pilot is meant to pay.
Both runs use a temporary app home (their ledger rows are thrown away) and the shared model cache.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "examples"
PLANS = {"tickets": (EXAMPLES / "plan-tickets.yaml", EXAMPLES / "answers-tickets.yaml"),
         "qa": (EXAMPLES / "plan-qa.yaml", EXAMPLES / "answers.yaml")}
BUDGET_S = 600.0
MAX_NEW_TOKENS = 16         # `make demo`'s: the reference answers are a few words


def run_both(root: Path, plan_path: Path, answers: Path, overrides: list[str], max_new_tokens: int) -> dict:
    from tunewise.advisor.questions import read_answers_file
    from tunewise.advisor.records import Answers
    from tunewise.eval.pilot import run_pilot
    from tunewise.eval.runner import load_plan, run_compare

    plan = load_plan(plan_path, overrides)
    started, cpu = time.monotonic(), time.process_time()
    pilot = run_pilot(plan, BUDGET_S, Answers(**read_answers_file(answers)), max_new_tokens=max_new_tokens)
    pilot_s, pilot_cpu = time.monotonic() - started, time.process_time() - cpu
    # The pilot's half on stderr at once, so a compare that is cut short still leaves it.
    print(json.dumps({"pilot_seconds": round(pilot_s, 1), "pilot": pilot.model_dump(mode="json")}), file=sys.stderr,
          flush=True)
    started, cpu = time.monotonic(), time.process_time()
    results = run_compare(plan_path, root / "compare", overrides=overrides,
                          max_new_tokens=max_new_tokens).model_dump(mode="json")
    compare_s, compare_cpu = time.monotonic() - started, time.process_time() - cpu
    return {"pilot": pilot, "pilot_s": pilot_s, "results": results, "compare_s": compare_s,
            "pilot_cpu": pilot_cpu, "compare_cpu": compare_cpu,
            "sample_ceiling": {name: sample_ceiling(root / "compare" / "predictions" / f"{name}.jsonl", plan.task,
                                                    pilot.sample_size, plan.task == "classification")
                               for name in results["approaches"]}}


def sample_ceiling(predictions: Path, task: str, size: int, by_label: bool, draws: int = 400) -> float:
    """The share of stratified samples of `size` of compare's own answers whose verdict metric lies within
    0.05 of the whole eval set's: how often a pilot that measured an approach exactly, but on a sample of
    this size, would land within 0.05 (the sampling error alone, drawn as the pilot draws its sample).
    Each example is scored once (`metric_statistic`), each sample only indexes the scores."""
    from types import SimpleNamespace

    import numpy as np

    from tunewise.eval.pilot_sample import stratified_order
    from tunewise.eval.stats import metric_statistic

    rows = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines() if line.strip()]
    statistic = metric_statistic(task, rows)
    full = statistic(np.arange(len(rows)))
    items = [SimpleNamespace(response=r["reference"], index=i) for i, r in enumerate(rows)]
    hits = sum(abs(statistic(np.array([i.index for i in stratified_order(items, seed, by_label)[:size]])) - full)
               <= 0.05 for seed in range(draws))
    return round(hits / draws, 3)


def summary(run: dict) -> dict:
    pilot, results = run["pilot"], run["results"]
    verdict = results["verdict"]
    rows = []
    for p in pilot.predictions:
        measured = results["approaches"][p.approach]["metrics"][p.metric]
        rows.append({"approach": p.approach, "predicted": p.value, "low": p.low, "high": p.high, "basis": p.basis,
                     "measured": round(measured, 4), "error": round(measured - p.value, 4),
                     "within_0.05": abs(measured - p.value) <= 0.05,
                     "measured_in_interval": p.low <= measured <= p.high,
                     "sample_ceiling": run["sample_ceiling"].get(p.approach)})
    return {
        "pilot_seconds": round(run["pilot_s"], 1), "compare_seconds": round(run["compare_s"], 1),
        "ratio": round(run["pilot_s"] / run["compare_s"], 3), "ratio_target": 0.25,
        # CPU seconds of this process (all its threads): what each half cost in work, which the other
        # jobs on a shared machine change far less than its wall time
        "pilot_cpu_seconds": round(run["pilot_cpu"], 1), "compare_cpu_seconds": round(run["compare_cpu"], 1),
        "cpu_ratio": round(run["pilot_cpu"] / run["compare_cpu"], 3),
        "pilot_planned_seconds": pilot.planned_seconds, "pilot_compare_estimate_seconds": pilot.compare_estimate_seconds,
        "compare_estimate_error": (round(pilot.compare_estimate_seconds / run["compare_s"] - 1, 3)
                                   if pilot.compare_estimate_seconds else None),
        "pilot_sample": pilot.sample_size, "eval_source": pilot.eval_source,
        "pilot_pick": pilot.recommendation, "compare_winner": verdict["winner"], "compare_best": verdict["best"],
        "compare_ties": verdict["ties"],
        "pick_is_winner_or_tied": pilot.recommendation in [verdict["winner"], verdict["best"], *verdict["ties"]],
        "within_0.05": sum(r["within_0.05"] for r in rows), "approaches": len(rows),
        "share_within_0.05": round(sum(r["within_0.05"] for r in rows) / max(len(rows), 1), 3),
        "mean_abs_error": round(sum(abs(r["error"]) for r in rows) / max(len(rows), 1), 4),
        "predictions": rows, "pilot_points": [p.model_dump() for p in pilot.points],
        "curves": [c.model_dump() for c in pilot.curves], "dropped": pilot.dropped, "skipped": pilot.skipped,
        "statements": pilot.statements + pilot.crossings, "verdict": verdict["sentence"],
    }


def main() -> None:
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=sorted(PLANS), default="tickets", help="the built-in example")
    parser.add_argument("--plan-file", type=Path, help="another plan instead (bench/_wordnet_data.py writes two, "
                                                       "bench/_debian_data.py a third), "
                                                       "with the advisor's answers beside it in answers.yaml")
    parser.add_argument("--only", help="comma-separated approaches to keep, in both halves")
    parser.add_argument("--steps", type=int, help="the plan's tuning.max_steps (default: the plan's own, 40)")
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS,
                        help=f"answer length in both halves (default {MAX_NEW_TOKENS}, `make demo`'s)")
    parser.add_argument("--keep", type=Path, help="a new folder to keep the compare's results and predictions in")
    args = parser.parse_args()
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive number of steps, not {args.steps}")
    overrides = [] if args.steps is None else [f"tuning.max_steps={args.steps}"]
    if args.only:
        overrides.append(f"approaches=[{args.only}]")

    real_models = Path(os.environ.get("TUNEWISE_HOME") or Path.home() / ".cache" / "tunewise") / "models"
    os.environ.setdefault("TUNEWISE_MODELS", str(real_models))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TUNEWISE_HOME"] = str(Path(tmp) / "home")
        plan_path, answers = (args.plan_file, args.plan_file.parent / "answers.yaml") if args.plan_file \
            else PLANS[args.plan]
        out = summary(run_both(Path(tmp), plan_path, answers, overrides, args.max_new_tokens))
        if args.keep:
            shutil.copytree(Path(tmp) / "compare", args.keep, ignore=shutil.ignore_patterns("models", "index*"))
    out["plan"] = {"file": str(plan_path), "overrides": overrides, "max_new_tokens": args.max_new_tokens}
    out["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                      "torch": torch.__version__, "load_before": [round(x, 2) for x in load_before],
                      "load_after": [round(x, 2) for x in os.getloadavg()],
                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
