"""Fine-tuning methods. Importing this package imports no torch: `run_tuning` loads a method when called."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from tunewise.core.schema import TrainingRun
    from tunewise.tuning.config import TuneConfig


def run_tuning(config: "TuneConfig", progress: Callable | None = None) -> "TrainingRun":
    """Train `config.method` (lora, qlora, full, prompt-tuning, head); writes OUT/run.json and returns it."""
    from tunewise.core.ledger import record_training_run
    from tunewise.tuning.registry import run_tuning as run

    training = run(config, progress)
    record_training_run(training)
    return training


def tune(config: "TuneConfig", progress: Callable | None = None) -> "TrainingRun":
    """What `tunewise tune` does: launch `nproc` processes, or search first (`auto`), or train."""
    if config.nproc > 1:
        from tunewise.tuning.launch import launch

        return launch(config)
    if config.auto:
        from tunewise.tuning.search import search_and_train

        return search_and_train(config, progress)
    return run_tuning(config, progress)


__all__ = ["run_tuning", "tune"]
