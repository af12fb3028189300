"""The tuning methods by name: each maps to a module with `run(config, progress) -> TrainingRun`."""
from __future__ import annotations

import importlib
from typing import Callable

from tunewise.core.errors import ConfigError
from tunewise.core.schema import TrainingRun
from tunewise.tuning.config import TuneConfig

# method name -> module with `run(config, progress) -> TrainingRun`; explicit, never discovered.
METHOD_MODULES: dict[str, str] = {}


def register_method(name: str, module: str) -> None:
    if name in METHOD_MODULES:
        raise ValueError(f"tuning method '{name}' is already registered")
    METHOD_MODULES[name] = module


register_method("lora", "tunewise.tuning.lora")
register_method("qlora", "tunewise.tuning.lora")
register_method("full", "tunewise.tuning.full")
register_method("prompt-tuning", "tunewise.tuning.prompt")
register_method("head", "tunewise.tuning.head")
register_method("dpo", "tunewise.tuning.dpo")


def run_tuning(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    """Train `config.method` and return the `TrainingRun` also written to `OUT/run.json`."""
    if config.method not in METHOD_MODULES:
        raise ConfigError(f"unknown tuning method '{config.method}'; choose one of {', '.join(METHOD_MODULES)}")
    return importlib.import_module(METHOD_MODULES[config.method]).run(config, progress)


