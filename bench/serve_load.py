"""`serve` under load on loopback: throughput, p50/p99 latency and errors, batched vs the serial baseline.

The same load is sent twice in one run to a ChatServer over the bundled SmolLM2-135M-Instruct: first with
batching off (`max_batch=1`, one request at a time: how serve behaved before), then with the default
limits (`max_batch=8`, `max_queue=16`). Each run is CLIENTS concurrent clients for DURATION_S seconds,
each sending one short chat request (max_tokens=TOKENS) after another; a 503 is counted as a rejection
and the client waits its Retry-After. Given a Python with llama-cpp-python[server], the same load goes
to llama.cpp's server on the same GGUF too.
Run: `.venv/bin/python -m bench.serve_load [LLAMA_PYTHON]` (about 2.5 minutes on 2 CPU cores, 4 with llama.cpp).
"""
from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import datetime, timezone

from tunewise.retrieval.generate import make_generator
from tunewise.retrieval.serve import ChatServer, Limits

CLIENTS = int(os.environ.get("BENCH_CLIENTS", 16))
DURATION_S = float(os.environ.get("BENCH_DURATION_S", 45))
TOKENS = 16
QUESTIONS = ["What is the capital of France?", "Name a primary colour.", "How many days are in a week?",
             "What do bees make?", "Say hello in Spanish.", "What is two plus two?"]


def client(host: str, port: int, index: int, stop: float, stats: dict) -> None:
    n = index
    while time.monotonic() < stop:
        body = json.dumps({"model": "m", "max_tokens": TOKENS,
                           "messages": [{"role": "user", "content": QUESTIONS[n % len(QUESTIONS)]}]})
        n += 1
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = json.loads(response.read() or b"null")
            conn.close()
        except (OSError, ValueError):
            stats["errors"] += 1
            continue
        if response.status == 200:
            stats["latencies"].append(time.perf_counter() - started)
            stats["tokens"] += payload["usage"]["completion_tokens"]
        elif response.status == 503:
            stats["rejected"] += 1
            time.sleep(float(response.getheader("Retry-After") or 1))
        else:
            stats["errors"] += 1


def run(generator, limits: Limits) -> dict:
    server = ChatServer(generator, port=0, limits=limits)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stats, elapsed = load(*server.server_address[:2])
    server.shutdown()
    server.server_close()
    return summary(stats, elapsed, server.queue.batches)


def run_llama(python: str, port: int = 8766) -> dict:
    """The same load against llama.cpp's OpenAI-compatible server on the bundled GGUF."""
    from bench.generation import start_llama_server
    from tunewise.core.models import BUNDLED

    server = start_llama_server(python, BUNDLED["smollm2-135m-instruct"].source_path(), port)
    try:
        stats, elapsed = load("127.0.0.1", port)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return summary(stats, elapsed, [])


def load(host: str, port: int) -> tuple[dict, float]:
    stats = {"latencies": [], "tokens": 0, "rejected": 0, "errors": 0}
    stop = time.monotonic() + DURATION_S
    threads = [threading.Thread(target=client, args=(host, port, i, stop, stats)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats, time.perf_counter() - started


def summary(stats: dict, elapsed: float, batches: list[int]) -> dict:
    lat = sorted(stats["latencies"])
    return {"done": len(lat), "rps": len(lat) / elapsed, "tok_s": stats["tokens"] / elapsed,
            "p50": statistics.median(lat) if lat else float("nan"),
            "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan"),
            "rejected": stats["rejected"], "errors": stats["errors"],
            "batches": statistics.mean(batches) if batches else float("nan")}


def main() -> None:
    generator = make_generator("smollm2-135m-instruct")  # the device choice serve makes
    generator.generate([[{"role": "user", "content": "warm up"}]], max_new_tokens=4)
    load_before = os.getloadavg()
    results = {"serial (max_batch=1, before)": run(generator, Limits(max_batch=1, max_queue=16)),
               "batched (max_batch=8, default)": run(generator, Limits())}
    llama = sys.argv[1] if len(sys.argv) > 1 else None  # a Python with llama-cpp-python[server]
    if llama:
        results["llama.cpp server (same GGUF)"] = run_llama(llama)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{stamp}, {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{CLIENTS} clients x {DURATION_S:g} s each, max_tokens={TOKENS}, loopback; load average "
          f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("\n| server | requests done | req/s | tokens/s | p50 latency (s) | p99 latency (s) | 503s | errors | "
          "mean batch |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['done']} | {r['rps']:.2f} | {r['tok_s']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['rejected']} | {r['errors']} | {r['batches']:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
