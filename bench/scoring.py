"""Label scoring examples/s: one cached prompt (tunewise) vs one full pass per label (the old path),
on the bundled SmolLM2-135M. Run: `.venv/bin/python -m bench.scoring`.

Every path scores the same few-shot classification prompts (fixed demonstrations from
examples/tickets-train.jsonl, then the example to classify) against every label, in this process, one
after the other; the scores of the two must agree to 1e-4, or the benchmark fails.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m-instruct"


def few_shot_conversations(shots: int, count: int) -> tuple[list[list[dict]], list[str]]:
    rows = [json.loads(line) for line in (ROOT / "examples" / "tickets-train.jsonl").read_text().splitlines()]
    labels = sorted({r["label"] for r in rows})
    demos = "\n".join(f"Ticket: {r['text']}\nLabel: {r['label']}" for r in rows[:shots])
    system = f"Classify each ticket as one of: {', '.join(labels)}.\n\n{demos}"
    convs = [[{"role": "system", "content": system}, {"role": "user", "content": f"Ticket: {r['text']}\nLabel:"}]
             for r in rows[shots:shots + count]]
    return convs, labels


def measure(generator, convs, labels, score) -> tuple[float, list]:
    tok = generator.tokenizer
    started = time.perf_counter()
    out = []
    for conv in convs:
        prompt = generator._ids(generator.render(conv))
        replies = [generator._reply_ids(conv, prompt, text) for text in labels]
        out.append(score(generator.model, prompt, replies, tok.pad_token_id, generator.batch_size))
    return len(convs) / (time.perf_counter() - started), out


def main() -> None:
    from tunewise.retrieval.generate import LocalGenerator
    from tunewise.retrieval.scoring import PromptCache, score_after_shared_prompt, score_by_full_passes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=40)
    parser.add_argument("--examples", type=int, default=12)
    args = parser.parse_args()
    generator = LocalGenerator.load(MODEL)
    convs, labels = few_shot_conversations(args.shots, args.examples)
    prompt_tokens = sum(generator.count_tokens(c) for c in convs) / len(convs)
    measure(generator, convs[:1], labels, score_after_shared_prompt)  # warm-up
    old_rate, old = measure(generator, convs, labels, score_by_full_passes)
    new_rate, new = measure(generator, convs, labels, score_after_shared_prompt)
    reuse = PromptCache()
    reuse_rate, reused = measure(generator, convs, labels, lambda *a: score_after_shared_prompt(*a, reuse=reuse))
    gap = max(abs(a[0] - b[0]) for y in (new, reused) for x, z in zip(old, y) for a, b in zip(x, z))
    if gap > 1e-4:
        raise SystemExit(f"the cached path disagrees with the per-label passes by {gap:.2e}")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f} at the end.")
    print(f"{len(convs)} examples, {len(labels)} labels, {args.shots}-shot prompts of {prompt_tokens:.0f} tokens "
          f"on average, batch {generator.batch_size}; largest score difference {gap:.1e}.\n")
    print("| path | examples/s | x old |\n| --- | --- | --- |")
    print(f"| one full pass per label (old) | {old_rate:.3f} | 1.00x |")
    print(f"| prompt encoded once, labels from its cache | {new_rate:.3f} | {new_rate / old_rate:.2f}x |")
    print(f"| + demonstrations' prefix reused across examples | {reuse_rate:.3f} | {reuse_rate / old_rate:.2f}x |")


if __name__ == "__main__":
    main()
