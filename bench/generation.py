"""Local generation tokens/s: batches in input order (the old path) vs length-sorted batches, with
transformers' dynamic and static KV caches, and llama.cpp's server on the same model's GGUF when a
llama.cpp install is given. Run: `.venv/bin/python -m bench.generation [--llama-python PATH]`.

Every path answers the same prompts (the questions of examples/qa-eval.jsonl after retrieval-style
context of varied length) greedily with the same number of new tokens; tokens/s counts the tokens
each path generated, over its wall time, in this process one after the other.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m-instruct"


def conversations(count: int, seed: int = 0) -> list[list[dict]]:
    """Questions with 0-3 context passages from examples/docs, so prompt lengths vary as in a RAG eval."""
    rows = [json.loads(line) for line in (ROOT / "examples" / "qa-eval.jsonl").read_text().splitlines()]
    docs = [p.read_text() for p in sorted((ROOT / "examples" / "docs").glob("*.md"))]
    rng = random.Random(seed)
    out = []
    for row in rows[:count]:
        context = "\n\n".join(rng.sample(docs, rng.randint(0, 3)))[:2400]
        out.append([{"role": "user", "content": f"{context}\n\nQuestion: {row['question']}".strip()}])
    return out


def local_rate(generator, convs, new_tokens: int, in_order: bool) -> dict:
    started = time.perf_counter()
    if in_order:  # the old path: consecutive batches, whatever their lengths
        outs = [g for s in range(0, len(convs), generator.batch_size)
                for g in generator._generate_batch(convs[s:s + generator.batch_size], new_tokens)]
    else:
        outs = generator.generate(convs, new_tokens)
    seconds = time.perf_counter() - started
    tokens = sum(g.completion_tokens for g in outs)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def llama_server_rate(python: str, gguf: Path, convs, new_tokens: int, port: int = 8765) -> dict:
    """Start `python -m llama_cpp.server` on the GGUF, send the prompts one by one, stop it."""
    server = start_llama_server(python, gguf, port)
    try:
        started, tokens = time.perf_counter(), 0
        for conv in convs:
            body = json.dumps({"messages": conv, "max_tokens": new_tokens, "temperature": 0}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=600) as reply:
                tokens += json.load(reply)["usage"]["completion_tokens"]
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def start_llama_server(python: str, gguf: Path, port: int) -> subprocess.Popen:
    """llama.cpp's OpenAI-compatible server on loopback, returned once it answers."""
    server = subprocess.Popen([python, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                               "--port", str(port), "--n_ctx", "4096", "--n_threads", str(os.cpu_count() or 1)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port)
    except BaseException:
        server.terminate()
        raise
    return server


def _wait_for(port: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit("llama.cpp's server did not start")


def main() -> None:
    from tunewise.core.device import choose_device
    from tunewise.core.models import BUNDLED
    from tunewise.retrieval.generate import make_generator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--llama-python", default=None, help="a Python with llama-cpp-python[server]")
    args = parser.parse_args()
    convs = conversations(args.prompts)
    fp32 = make_generator(MODEL, device=choose_device("cpu", "fp32"))
    generator = make_generator(MODEL)  # the one device choice: what compare, ask and serve use
    precision = choose_device().precision
    for g in (fp32, generator):
        g.generate(convs[:2], 4)  # warm-up
    rows = {"transformers fp32, batches in input order (the old path)": local_rate(fp32, convs, args.new_tokens, True),
            "transformers fp32, length-sorted batches": local_rate(fp32, convs, args.new_tokens, False),
            f"transformers {precision}, length-sorted batches (default)": local_rate(generator, convs, args.new_tokens, False)}
    generator.batch_size = 1
    rows[f"transformers {precision}, one request at a time"] = local_rate(generator, convs, args.new_tokens, False)
    generator.batch_size = fp32.batch_size
    generator.kv_cache = "static"
    rows[f"transformers {precision}, length-sorted, static KV cache"] = local_rate(generator, convs, args.new_tokens, False)
    if args.llama_python:
        gguf = BUNDLED[MODEL].source_path()
        rows[f"llama.cpp server ({gguf.name}), one request at a time"] = llama_server_rate(
            args.llama_python, gguf, convs, args.new_tokens)
    prompt_tokens = [generator.count_tokens(c) for c in convs]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f} at the end.")
    print(f"{len(convs)} prompts of {min(prompt_tokens)}-{max(prompt_tokens)} tokens, {args.new_tokens} new tokens "
          f"each (greedy), batch {generator.batch_size}.\n")
    print("| path | generated tokens | seconds | tokens/s |\n| --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['tokens']} | {r['seconds']:.1f} | {r['tokens_per_s']:.1f} |")


if __name__ == "__main__":
    main()
