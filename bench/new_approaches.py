"""DPO step time vs LoRA SFT step time on the same pairs, and few-shot-opt's search cost against one
plain few-shot pass over the same dev split, on the bundled SmolLM2-135M on the CPU.
Run: `flock /tmp/heavy.lock .venv/bin/python -m bench.new_approaches`.

Both tuning runs use examples/preferences.jsonl (SFT trains on prompt -> chosen, DPO on the pairs), the
same LoRA config (r=16, all linear layers), batch, max-seq-len and steps, alternated in this process
(SFT, DPO, SFT, DPO) so that load drift hits both; the ratio is of the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m-instruct"


def sft_copy(folder: Path) -> Path:
    rows = [json.loads(line) for line in (ROOT / "examples" / "preferences.jsonl").read_text().splitlines()]
    path = folder / "sft.jsonl"
    path.write_text("".join(json.dumps({"prompt": r["prompt"], "completion": r["chosen"]}) + "\n" for r in rows))
    return path


def step_seconds(method: str, data: Path, out: Path, steps: int, batch: int, seq: int) -> float:
    from tunewise.tuning import run_tuning
    from tunewise.tuning.config import TuneConfig

    run = run_tuning(TuneConfig(method=method, model=MODEL, train=data, out=out, max_steps=steps, batch_size=batch,
                                max_seq_len=seq, save_steps=10_000, device="cpu", force=True))
    return run.train_seconds / run.steps


def tuning_steps(tmp: Path, steps: int, batch: int, seq: int, rounds: int) -> dict:
    sft = sft_copy(tmp)
    pairs = ROOT / "examples" / "preferences.jsonl"
    times: dict[str, list[float]] = {"lora": [], "dpo": []}
    for i in range(rounds):
        times["lora"].append(step_seconds("lora", sft, tmp / f"lora{i}", steps, batch, seq))
        times["dpo"].append(step_seconds("dpo", pairs, tmp / f"dpo{i}", steps, batch, seq))
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {"seconds_per_step": times, "median": medians, "ratio": medians["dpo"] / medians["lora"]}


def search_cost(tmp: Path, trials: int, dev_max: int, max_new_tokens: int) -> dict:
    from tunewise.core.data import load_dataset
    from tunewise.core.schema import Plan
    from tunewise.eval.approaches.few_shot_opt import PLAIN, FewShotOptConfig, carve_dev, dev_score, prompted_system, search
    from tunewise.eval.workspace import Workspace

    train = ROOT / "examples" / "qa-train.jsonl"
    plan = Plan(task="qa", train=train, eval=ROOT / "examples" / "qa-eval.jsonl", approaches=["few-shot-opt"])
    ws = Workspace(plan, load_dataset(train), None, tmp / "ws", max_new_tokens=max_new_tokens)
    generator = ws.generator()
    cfg = FewShotOptConfig(trials=trials, dev_max=dev_max)
    pool, dev = carve_dev(ws.train.examples, cfg, plan.seed)
    ws.embedder()                                   # loaded once, outside both timings
    started = time.perf_counter()
    plain = dev_score(ws, prompted_system(ws, generator, pool, PLAIN, {}), dev)
    plain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    best, records = search(ws, generator, pool, dev, cfg)
    seconds = time.perf_counter() - started
    distinct = {(r["shots"], r["strategy"], r["order"], r["instruction"]) for r in records}
    return {"dev": len(dev), "trials": len(records), "distinct": len(distinct),
            "plain_pass_seconds": plain_seconds, "search_seconds": seconds, "ratio": seconds / plain_seconds,
            "plain_dev": plain, "best_dev": max(r["dev_score"] for r in records), "best": vars(best)}


def report(tune: dict, cost: dict, args, load_before: float) -> str:
    load = os.getloadavg()[0]
    m = tune["median"]
    return "\n".join([
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average {load_before:.1f} before, {load:.1f} after.",
        f"SmolLM2-135M, CPU fp32, LoRA r=16 all linear layers, batch {args.batch}, max-seq-len {args.seq}, "
        f"{args.steps} steps per run, {args.rounds} alternated rounds; the 24 pairs of examples/preferences.jsonl.", "",
        "| run | seconds per step (each round) | median |", "| --- | --- | --- |",
        f"| LoRA SFT (prompt -> chosen) | {', '.join(f'{s:.2f}' for s in tune['seconds_per_step']['lora'])} | {m['lora']:.2f} |",
        f"| DPO (prompt, chosen, rejected) | {', '.join(f'{s:.2f}' for s in tune['seconds_per_step']['dpo'])} | {m['dpo']:.2f} |",
        f"| **DPO / SFT** | | **{tune['ratio']:.2f}x** |", "",
        f"few-shot-opt on the QA example (42 training questions, dev split {cost['dev']}, {cost['trials']} trials, "
        f"{cost['distinct']} distinct configurations, --max-new-tokens {args.max_new_tokens}):", "",
        "| measure | value |", "| --- | --- |",
        f"| one plain few-shot pass over the dev split (baseline) | {cost['plain_pass_seconds']:.1f} s |",
        f"| the whole search | {cost['search_seconds']:.1f} s ({cost['ratio']:.1f}x the baseline) |",
        f"| token F1 on dev: plain few-shot -> best found | {cost['plain_dev']:.3f} -> {cost['best_dev']:.3f} |",
        f"| best configuration | {cost['best']} |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--dev-max", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tune = tuning_steps(tmp, args.steps, args.batch, args.seq, args.rounds)
        print(json.dumps(tune, indent=2), flush=True)
        cost = search_cost(tmp, args.trials, args.dev_max, args.max_new_tokens)
        print(json.dumps(cost, indent=2, default=str), flush=True)
    print(report(tune, cost, args, load_before))


if __name__ == "__main__":
    main()
