"""Approaches that fail for a reason about the approach itself (its training diverged) are recorded as
failed, with that reason, so the comparison finishes the other approaches and reports the failure.

The record is OUT/failed.json ({name: reason}; beside approaches/, where it would read as one); a rerun
retries a failed approach, and an approach that then succeeds leaves the record.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from tunewise.core.errors import TunewiseError
from tunewise.core.files import read_json, write_json
from tunewise.tuning.guards import TrainingDivergedError

FAILED_FILE = "failed.json"
APPROACH_FAILURES = (TrainingDivergedError,)
T = TypeVar("T")


def run_or_record_failure(run: Callable[[], T], out: Path, name: str) -> T | None:
    """`run()`'s result, or None with the reason recorded when the approach failed in itself."""
    failures = read_failures(out)
    try:
        result = run()
    except APPROACH_FAILURES as exc:
        write_json(out / FAILED_FILE, {**failures, name: str(exc)})
        return None
    if name in failures:
        write_json(out / FAILED_FILE, {k: v for k, v in failures.items() if k != name})
    return result


def read_failures(out: Path) -> dict[str, str]:
    path = Path(out) / FAILED_FILE
    return read_json(path) if path.is_file() else {}


def check_any_finished(out: Path, finished: dict[str, Any]) -> dict[str, str]:
    """The recorded failures; refuses a comparison in which every approach failed."""
    failures = read_failures(out)
    if not finished:
        raise TunewiseError(f"every approach failed: {'; '.join(f'{k}: {v}' for k, v in failures.items())}")
    return failures
