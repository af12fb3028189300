"""How long `tunewise advise` takes from answers to a recommendation, against the CLI's own start-up.

Baseline: `tunewise --help` (interpreter + click + the command table), measured in the same run. The
product: `advise --answers FILE --json`, then the same with `--data`, `--eval` and `--corpus` of the
built-in example (data profile with the chars/4 token estimate). Medians of 5 fresh processes each.
Run: `python -m bench advisor_latency`.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def median_seconds(args: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tunewise.cli.main", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        answers = Path(home) / "answers.yaml"
        answers.write_text("task: qa\nknowledge_changes: weekly\nlong_tail: true\n", encoding="utf-8")
        env = {**os.environ, "TUNEWISE_HOME": home}
        print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}, date {date.today()}")
        base = median_seconds(["--help"], env)
        plain = median_seconds(["advise", "--answers", str(answers), "--json"], env)
        files = median_seconds(["advise", "--answers", str(answers), "--json", "--data", "examples/qa-train.jsonl",
                                "--eval", "examples/qa-eval.jsonl", "--corpus", "examples/docs"], env)
    print(f"{'command':<40} {'median s':>9} {'x --help':>9}")
    for name, seconds in (("tunewise --help (baseline)", base), ("advise --answers", plain),
                          ("advise --answers --data --eval --corpus", files)):
        print(f"{name:<40} {seconds:>9.2f} {seconds / base:>9.2f}")


if __name__ == "__main__":
    main()
