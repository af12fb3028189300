"""LoRA throughput (real tokens/s) of tunewise's path vs plain `Trainer` + peft and TRL's SFTTrainer,
and peak memory per method, on the bundled SmolLM2-135M. Run: `.venv/bin/python -m bench.tuning`.

The throughput runs train the same model, data, LoRA config, batch size and number of steps in this
process, one after the other: tunewise (length-grouped padded batches, logits only at response
positions, the default precision, and again in fp32), plain Trainer + peft with transformers' pad-to-longest collator (realistic) and
padded to max-seq-len (padding-heavy), and TRL's SFTTrainer (completion-only loss, padding-free).
The memory runs each start a fresh `tunewise tune` process, so each peak RSS belongs to one run alone.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m-instruct"


def make_data(folder: Path, n: int = 96, seed: int = 0, long: bool = False) -> Path:
    """Summarise-a-passage examples cut from the example documents: a median of ~45 words, a long tail
    to 350 (log-normal, like the prompt lengths of public instruction sets). `long`: every passage is
    600 words, so each example fills max-seq-len 512 after truncation (the memory rows' "batch x 512")."""
    words = " ".join(p.read_text() for p in sorted((ROOT / "examples" / "docs").glob("*.md"))).split()
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        size = 600 if long else max(5, min(350, int(rng.lognormvariate(3.8, 0.8))))
        start = rng.randrange(0, len(words) - size)
        passage = " ".join(words[start:start + size])
        rows.append({"prompt": f"Summarise in one line: {passage}", "completion": " ".join(words[start:start + 12])})
    path = folder / ("long.jsonl" if long else "varied.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def throughput(data: Path, out: Path, steps: int, batch: int, seq: int) -> dict:
    """Train `steps` LoRA steps three ways in this process: tunewise's path, and plain Trainer + peft
    with the usual pad-to-longest collator (realistic) and padded to max-seq-len (padding-heavy)."""
    from transformers import DataCollatorForSeq2Seq

    from tunewise.tuning import common, context, lora
    from tunewise.tuning.config import TuneConfig
    from tunewise.tuning.examples import PadCollator

    results = {}
    for key, precision in (("ours", "auto"), ("ours_fp32", "fp32")):
        config = TuneConfig(method="lora", model=MODEL, train=data, out=out / key, max_steps=steps, batch_size=batch,
                            max_seq_len=seq, save_steps=10_000, device="cpu", lr=2e-4, precision=precision)
        ctx = context.start(config)
        model, tokenizer = lora.setup(ctx)
        common.train(ctx, model, tokenizer)
        results[key] = {"tokens": ctx.train_tokens, "seconds": ctx.train_seconds, "padding": ctx.padding_fraction,
                        "precision": ctx.device.precision}
    examples, _ = common.encode(ctx, tokenizer)
    longest = CountingCollator(DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100))
    results["longest"] = plain_trainer_peft(examples, longest, out / "longest", steps, batch)
    results["padded"] = plain_trainer_peft(examples, PadCollator(tokenizer.pad_token_id, pad_to=seq),
                                           out / "padded", steps, batch)
    results["trl"] = trl_sft(examples, tokenizer, out / "trl", steps, batch, seq)
    if results["ours"]["precision"] == "bf16":  # TRL at tunewise's precision too (CPU autocast)
        results["trl_bf16"] = trl_sft(examples, tokenizer, out / "trl_bf16", steps, batch, seq, bf16=True)
    for r in results.values():
        r["tokens_per_s"] = r["tokens"] / r["seconds"]
    return results


def trl_sft(examples: list[dict], tokenizer, out: Path, steps: int, batch: int, seq: int, bf16: bool = False) -> dict:
    """TRL's SFTTrainer on the same tokenised examples: completion-only loss, padding-free batches."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from tunewise.core.models import load_causal_lm

    rows = [{"input_ids": e["input_ids"], "completion_mask": [int(x != -100) for x in e["labels"]]} for e in examples]
    base, _ = load_causal_lm(MODEL)
    args = SFTConfig(output_dir=str(out), per_device_train_batch_size=batch, max_steps=steps, learning_rate=2e-4,
                     use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True, logging_steps=10_000,
                     seed=0, padding_free=True, completion_only_loss=True, max_length=None,  # examples are truncated
                     bf16=bf16)
    trainer = SFTTrainer(model=base, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                                task_type="CAUSAL_LM"))
    counter = CountingCollator(trainer.data_collator)
    trainer.data_collator = counter
    start = time.perf_counter()
    trainer.train()
    return {"tokens": counter.real_tokens, "seconds": time.perf_counter() - start, "padding": counter.padding_fraction}


class CountingCollator:
    """A collator wrapper that counts real vs padding tokens, as PadCollator does."""

    def __init__(self, collate):
        self.collate, self.real_tokens, self.pad_tokens = collate, 0, 0

    def __call__(self, features):
        batch = self.collate([dict(f) for f in features])
        mask = batch.get("attention_mask")
        real = int(mask.sum()) if mask is not None else batch["input_ids"].numel()
        self.real_tokens += real
        self.pad_tokens += batch["input_ids"].numel() - real
        return batch

    @property
    def padding_fraction(self) -> float:
        return self.pad_tokens / max(self.real_tokens + self.pad_tokens, 1)


def plain_trainer_peft(examples: list[dict], collator, out: Path, steps: int, batch: int) -> dict:
    """The baseline a user would write: Trainer + peft, random order, the model's own full-logits loss."""
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from tunewise.core.models import load_causal_lm

    base, _ = load_causal_lm(MODEL)
    peft_model = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=batch, max_steps=steps,
                             learning_rate=2e-4, use_cpu=True, report_to="none", save_strategy="no",
                             remove_unused_columns=False, disable_tqdm=True, logging_steps=10_000, seed=0)
    trainer = Trainer(model=peft_model, args=args, train_dataset=examples, data_collator=collator)
    start = time.perf_counter()
    trainer.train()
    return {"tokens": collator.real_tokens, "seconds": time.perf_counter() - start,
            "padding": collator.padding_fraction}


METHOD_FLAGS = {
    "lora": [], "lora (dropout 0.05)": ["lora_dropout=0.05"],
    "lora (gradient checkpointing)": ["gradient_checkpointing=true"],
    "lora (packing)": ["packing=true"], "lora (fp32)": ["--precision", "fp32"],
    "full": ["--lr", "2e-5"], "full (fp32)": ["--lr", "2e-5", "--precision", "fp32"],
    "full (gradient checkpointing)": ["--lr", "2e-5", "gradient_checkpointing=true"],
    "full (top 4 layers)": ["--lr", "2e-5", "--train-top-layers", "4"],
    "prompt-tuning": [], "head": ["--task", "classification"],
}


def memory(sft: Path, cls: Path, out: Path, steps: int, batch: int, seq: int, names: list[str]) -> dict[str, dict]:
    """Peak memory and time of `steps` steps for each named method, each in its own process."""
    results = {}
    for name in names:
        flags = METHOD_FLAGS[name]
        method = name.split(" ")[0]
        data = cls if method == "head" else sft
        target = out / "".join(c if c.isalnum() else "_" for c in name)
        cmd = [sys.executable, "-m", "tunewise.cli.main", "tune", "--method", method, "--train", str(data), "--out",
               str(target), "--max-steps", str(steps), "--batch-size", str(batch), "--max-seq-len", str(seq),
               "--device", "cpu", "--json", *flags]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"{name}: {done.stderr.strip().splitlines()[-1]}")
        run = json.loads(done.stdout)
        results[name] = {k: run[k] for k in ("peak_memory_mb", "train_seconds", "trainable_params", "storage_mb",
                                              "precision")}
        print(name, results[name], flush=True)
    return results


ROWS = {"ours": "tunewise (length-grouped padded batches, logits at response positions; default precision)",
        "ours_fp32": "tunewise, the same in fp32",
        "longest": "plain Trainer + peft, pad to longest in batch (realistic)",
        "padded": "plain Trainer + peft, padded to max-seq-len (padding-heavy)",
        "trl": "TRL SFTTrainer + peft, completion-only loss, padding-free",
        "trl_bf16": "TRL SFTTrainer, the same in bf16"}


def report(result: dict, mem: dict, args) -> str:
    ours = result["ours"]["tokens_per_s"]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f} at the end.",
        f"LoRA r=16 on all linear layers, {args.steps} steps, batch {args.batch}, max-seq-len {args.seq}, "
        "96 summarise-a-passage examples (log-normal lengths, median ~45 words, up to 350) cut from examples/docs.", "",
        "| path | real tokens/s | real tokens | seconds | padding fraction | tunewise x |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, label in ROWS.items():
        if key not in result:
            continue
        r = result[key]
        lines.append(f"| {label} | {r['tokens_per_s']:.0f} | {r['tokens']} | {r['seconds']:.1f} | "
                     f"{r['padding']:.1%} | {ours / r['tokens_per_s']:.2f}x |")
    lines.append(f"Default precision on this CPU: {result['ours']['precision']} (tunewise's first row).")
    lines += ["", f"Peak memory per method ({args.mem_steps} steps, batch {args.mem_batch}, max-seq-len {args.seq}, "
              "CPU, every example filling max-seq-len, peak RSS above the RSS at run start, one process each):", "",
              "| method | precision | peak memory (MB) | x full | train seconds | trainable params | output (MB) |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    full = mem.get("full", {}).get("peak_memory_mb")
    for name, m in mem.items():
        share = f"{m['peak_memory_mb'] / full:.0%}" if full else "-"
        lines.append(f"| {name} | {m['precision']} | {m['peak_memory_mb']} | {share} | {m['train_seconds']:.1f} | "
                     f"{m['trainable_params']:,} | {m['storage_mb']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--mem-steps", type=int, default=2, help="0 skips the memory runs")
    parser.add_argument("--mem-batch", type=int, default=8)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--methods", default=",".join(METHOD_FLAGS), help="memory rows to run, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sft = make_data(tmp)
        mem = memory(make_data(tmp, long=True), ROOT / "examples" / "tickets-train.jsonl", tmp / "mem", args.mem_steps, args.mem_batch,
                     args.seq, args.methods.split(",")) if args.mem_steps else {}
        result = {} if args.skip_throughput else throughput(sft, tmp, args.steps, args.batch, args.seq)
        print(json.dumps(result, indent=2), flush=True)
    print(report(result, mem, args) if result else json.dumps(mem, indent=2))


if __name__ == "__main__":
    main()
