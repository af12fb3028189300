"""A run's context: the config, data, device and output folder, all checked before anything is written."""
from __future__ import annotations

import importlib.util
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tunewise.core.data import Dataset, check_eval_labels, load_dataset
from tunewise.core.device import rss_mb
from tunewise.core.errors import ConfigError, DataError
from tunewise.core.artefacts import check_checkpoint
from tunewise.core.files import claim_output, mark_output, read_json
from tunewise.core.models import model_dir, resolve_model
from tunewise.tuning.config import METHOD_DEFAULTS, TuneConfig
from tunewise.tuning.guards import warn_unsafe_settings
from tunewise.tuning.preflight import check_before_training

CHECKPOINTS = "checkpoints"
RUN_FILE = "run.json"
CONFIG_FILE = "tune.yaml"


@dataclass
class Context:
    """Everything a method needs, decided before any file is written."""

    config: TuneConfig
    out: Path
    device: Any
    task: str
    train_data: Dataset
    eval_data: Dataset | None
    labels: list[str] | None
    started: float = field(default_factory=time.perf_counter)
    rss_start_mb: float = 0.0
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    train_seconds: float = 0.0
    train_tokens: int = 0
    padding_fraction: float = 0.0
    frozen_params: int = 0      # parameters of a model part the Trainer never sees (a head's frozen base)

    @property
    def world_size(self) -> int:
        return int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def is_main(self) -> bool:
        return int(os.environ.get("RANK", "0")) == 0


def start(config: TuneConfig, preflight: Callable[[TuneConfig, Any], None] | None = None,
          load: Callable[[Path, str | None], Any] = load_dataset) -> Context:
    """Validate data, device and output before anything is written, then claim the output folder.
    `load` reads a data file (preference pairs for DPO, a `Dataset` otherwise)."""
    from transformers.utils import logging as hf_logging

    from tunewise.core.device import choose_device

    hf_logging.disable_progress_bar()  # the CLI shows its own progress on stderr
    # peft probes a property that transformers 5 deprecates; the warning is theirs, not the user's.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if config.train is None or config.out is None:
        raise ConfigError("a tuning run needs 'train' (a data file) and 'out' (an output folder)")
    if config.report_to == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("--report-to tensorboard needs the tensorboard package: pip install tensorboard")
    params_b = _params_b(config.model)
    config = config.resolved(params_b)
    warn_unsafe_settings(config, METHOD_DEFAULTS[config.method].get("lr"))
    device = choose_device(config.device, config.precision, training=True)
    if preflight is not None:
        preflight(config, device)
    config = check_before_training(config, device, model_dir(config.model))
    train_data = load(config.train, config.format)
    eval_data = load(config.eval, config.format) if config.eval else None
    task = config.task_for(train_data.format)
    labels = None
    if task == "classification":
        if train_data.format != "classification":
            raise DataError(config.train, f"a classifier needs classification records (text, label), "
                                          f"but this file is {train_data.format}")
        labels = train_data.labels
        if len(labels) < 2:
            raise DataError(config.train, "a classifier needs at least two distinct labels")
        if eval_data is not None:
            check_eval_labels(train_data, eval_data)
    out = Path(config.out)
    claim_output_folder(config, out)
    return Context(config, out, device, task, train_data, eval_data, labels, rss_start_mb=rss_mb())


def _params_b(model: str) -> float | None:
    resolved = resolve_model(model)
    return resolved.bundled.params_b if resolved.bundled is not None else None


def claim_output_folder(config: TuneConfig, out: Path) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return  # the launcher claimed it once, before starting the ranks
    if not config.resume:
        claim_output(out, config.force, tuning_inputs(config))
        mark_output(out, "tune")
        return
    if (out / RUN_FILE).exists() and read_json(out / RUN_FILE).get("completed", True):
        raise ConfigError(f"{out}: this run already completed; there is nothing to resume")
    if last_checkpoint(out) is None:
        raise ConfigError(f"{out}: no checkpoint to resume from; start the run again without --resume")
    check_checkpoint(last_checkpoint(out))


def tuning_inputs(config: TuneConfig) -> list:
    """What a tuning run reads: its output may not be, hold or sit inside any of these."""
    return [config.train, config.eval, config.model]


def last_checkpoint(out: Path) -> Path | None:
    """The newest complete Trainer checkpoint under OUT (the Trainer writes `trainer_state.json` last)."""
    folder = Path(out) / CHECKPOINTS
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").exists()] if folder.is_dir() else []
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


