"""Fine-tuning methods. Importing this package imports no torch: `run_tuning` loads a method when called."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from core.schema import TrainingRun
    from tuning.config import TuneConfig


def run_tuning(config: "TuneConfig", progress: Callable | None = None) -> "TrainingRun":
    """Train `config.method` (lora, qlora, full, prompt-tuning, head); writes OUT/run.json and returns it."""
    from tuning.common import run_tuning as run

    return run(config, progress)


__all__ = ["run_tuning"]
