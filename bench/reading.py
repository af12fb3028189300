"""Bounded reading costs nothing measurable: `assess` and `index build` before (the main branch's code)
and after (this tree's code), in the same run, on the same files.

Each measurement runs in a fresh subprocess of the matching code (the main checkout's venv for
"before", this tree's for "after"), alternating before/after, 5 repetitions each; the median is reported.
1. assess: `profile_dataset(fast=True)` on a 40,000-record JSONL (about 9 MB).
2. corpus reading: `load_corpus` on 2,000 markdown documents (about 8 MB).
3. index build: `build_index` of 200 documents with the bundled MiniLM embedder.
Run: `.venv/bin/python -m bench.reading` (TUNEWISE_MAIN=a checkout of the code before, with its own .venv) (about 3 minutes on 2 CPU cores);
`BENCH_REPEATS=3 BENCH_ONLY=assess,corpus` for a short run without the index build.
"""
from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

BEFORE = Path(os.environ.get("TUNEWISE_MAIN", "/work/main"))
AFTER = Path(__file__).parents[1]
REPEATS = int(os.environ.get("BENCH_REPEATS", 5))
CASES = {
    "assess (40,000 records)": "from tunewise.advisor.assess import profile_dataset as f; args = (DATA,); kw = {'fast': True}",
    "corpus reading (2,000 docs)": "from tunewise.core.data import load_corpus as f; args = (DOCS,); kw = {}",
    "index build (200 docs, MiniLM)": "from tunewise.retrieval.index import build_index as f; "
                                      "import tempfile; args = (SMALL,); kw = {'path': tempfile.mkdtemp() + '/i'}",
}
TIMER = """
import json, sys, time
DATA, DOCS, SMALL = sys.argv[1:4]
{setup}
start = time.perf_counter()
f(*args, **kw)
print(json.dumps(time.perf_counter() - start))
"""


def make_inputs(root: Path) -> tuple[Path, Path, Path]:
    data = root / "train.jsonl"
    rng = random.Random(0)  # varied messages: a templated set makes every record a near-duplicate of every other
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(5000)]
    with open(data, "w", encoding="utf-8") as handle:
        for i in range(40_000):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 30)))
            handle.write(json.dumps({"text": f"ticket {i}: {text}", "label": "ab"[i % 2]}) + "\n")
    docs, small = root / "docs", root / "small"
    for folder, count in ((docs, 2000), (small, 200)):
        folder.mkdir()
        for i in range(count):
            (folder / f"doc-{i}.md").write_text(f"# Document {i}\n\n" + f"Paragraph {i} about refunds. " * 140)
    return data, docs, small


def measure(tree: Path, setup: str, inputs: tuple[Path, ...]) -> float:
    python = tree / ".venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", TIMER.format(setup=setup), *map(str, inputs)], cwd=tree,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp))
        only = os.environ.get("BENCH_ONLY")  # e.g. "assess,corpus" for a short run
        for name, setup in CASES.items():
            if only and not any(word in name for word in only.split(",")):
                continue
            times = {"before": [], "after": []}
            for _ in range(REPEATS):
                for label, tree in (("before", BEFORE), ("after", AFTER)):
                    times[label].append(measure(tree, setup, inputs))
            before, after = statistics.median(times["before"]), statistics.median(times["after"])
            rows.append((name, before, after, after / before))
            print(f"{name}: before {before:.3f} s, after {after:.3f} s, ratio {after / before:.2f}", flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{stamp}, {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; median of {REPEATS}")
    print("\n| measure | before (main) | after (this branch) | after / before |\n| --- | --- | --- | --- |")
    for name, before, after, ratio in rows:
        print(f"| {name} | {before:.3f} s | {after:.3f} s | {ratio:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
