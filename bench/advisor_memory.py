"""Peak training memory of the bundled 135M model on this machine vs the advisor's estimate.

Each method runs in a fresh process (peak RSS is per process) for a few plain transformers + peft
steps at batch 4 x 256; the report is the measured peak, the estimate and their ratio.
Run: `python -m bench advisor_memory` (about a minute per method on 2 CPU cores).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import date

from tunewise.core.device import peak_rss_mb

BATCH, SEQ, STEPS = 4, 256, 3
METHODS = ("lora", "full")


def train_steps(method: str, steps: int = STEPS, batch: int = BATCH, seq: int = SEQ) -> dict:
    """Run `steps` AdamW steps in this process; return peak RSS and timings (needs torch)."""
    import torch

    from tunewise.core.models import load_causal_lm

    model, _ = load_causal_lm("smollm2-135m-instruct")
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    torch.manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    started = time.perf_counter()
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = (time.perf_counter() - started) / steps
    peak_mb = peak_rss_mb()  # VmHWM: ru_maxrss would carry the parent's peak over fork + exec
    total = sum(p.numel() for p in model.parameters())
    return {"method": method, "peak_memory_mb": peak_mb, "seconds_per_step": seconds, "total_params": total,
            "batch": batch, "seq": seq, "steps": steps}


def measure(method: str, steps: int = STEPS) -> dict:
    """`train_steps` in a fresh interpreter, so the peak belongs to this method alone."""
    out = subprocess.run([sys.executable, "-m", "bench.advisor_memory", "--one", method, str(steps)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from tunewise.advisor.estimate import Hardware, estimate_training

    cpu = Hardware(gpu_memory_gb=0.0)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}, "
          f"date {date.today()}")
    print(f"{'method':<6} {'measured MB':>12} {'estimate MB':>12} {'ratio':>6} {'s/step':>7}")
    for method in METHODS:
        run = measure(method)
        est = estimate_training(method, run["total_params"] / 1e9, SEQ, BATCH, cpu, model="smollm2-135m-instruct")
        ratio = est.memory_gb * 1024 / run["peak_memory_mb"]
        print(f"{method:<6} {run['peak_memory_mb']:>12.0f} {est.memory_gb * 1024:>12.0f} {ratio:>6.2f} "
              f"{run['seconds_per_step']:>7.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(train_steps(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
