"""Training that notices it is broken: settings far outside sane ranges warn before the run, and a loss
or weights that turn NaN/inf or explode stop it with the step and the likely cause.

The guard is a transformers TrainerCallback (built lazily, so importing this module imports no
transformers). It checks every logged loss and gradient norm, the trainable weights whenever a checkpoint
is written (a checkpoint with broken weights is deleted, so the last good one is what --resume finds) and
once more when training ends, before anything is saved as the result.
"""
from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

from tunewise.core.errors import TunewiseError

log = logging.getLogger("tunewise")
EXPLODE_FACTOR = 4.0        # a logged loss this many times the first one: the run is diverging
MAX_WEIGHT = 1e4            # trained weights this large are no longer a model
LR_SPAN = 100.0             # warn beyond this factor either way of the method's default learning rate
MAX_SANE_EPOCHS = 100


class TrainingDivergedError(TunewiseError):
    """Training produced NaN/inf or exploding losses or weights."""


def warn_unsafe_settings(config, default_lr: float | None) -> list[str]:
    """Warnings (also logged) for settings far outside sane ranges; the run still starts."""
    notes = []
    if default_lr and config.lr and not default_lr / LR_SPAN <= config.lr <= default_lr * LR_SPAN:
        notes.append(f"learning rate {config.lr:g} is over {LR_SPAN:g}x away from the {config.method} default "
                     f"{default_lr:g}; expect {'a diverging' if config.lr > default_lr else 'an untrained'} model")
    if config.epochs and config.epochs > MAX_SANE_EPOCHS:
        notes.append(f"{config.epochs:g} epochs will overfit any dataset; a few are usually enough")
    for note in notes:
        log.warning(note)
    return notes


def divergence_guard(lr: float, checkpoints: Path):
    """The TrainerCallback that stops a broken run; raises TrainingDivergedError out of trainer.train()."""
    from transformers import TrainerCallback

    class DivergenceGuard(TrainerCallback):
        first_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "train_loss", "grad_norm"):
                value = (logs or {}).get(key)
                if isinstance(value, (int, float)):
                    self._check_value(key, float(value), state.global_step)

        def on_save(self, args, state, control, model=None, **kwargs):
            problem = _weights_problem(model)
            if problem:
                shutil.rmtree(checkpoints / f"checkpoint-{state.global_step}", ignore_errors=True)
                raise self._stop(state.global_step, problem)

        def on_train_end(self, args, state, control, model=None, **kwargs):
            problem = _weights_problem(model)
            if problem:
                raise self._stop(state.global_step, problem)

        def _check_value(self, key: str, value: float, step: int) -> None:
            if not math.isfinite(value):
                raise self._stop(step, f"the {key.replace('_', ' ')} is {value}")
            if key == "grad_norm":
                return
            if self.first_loss is None:
                self.first_loss = value
            elif value > EXPLODE_FACTOR * max(self.first_loss, 1e-3):
                raise self._stop(step, f"the {key.replace('_', ' ')} rose from {self.first_loss:.3g} to {value:.3g}")

        def _stop(self, step: int, problem: str) -> TrainingDivergedError:
            return TrainingDivergedError(
                f"training diverged at step {step}: {problem}; the likely cause is the learning rate {lr:g}: "
                f"lower it (e.g. --lr {lr / 10:g}); the last good checkpoint, if any, is kept in {checkpoints}")

    return DivergenceGuard()


def _weights_problem(model) -> str | None:
    """NaN/inf or absurdly large trainable weights, or None; only trainable ones (small for adapters)."""
    if model is None:
        return None
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            if not torch.isfinite(param).all():
                return f"weight {name} holds NaN/inf"
            largest = float(param.abs().max()) if param.numel() else 0.0
            if largest > MAX_WEIGHT:
                return f"weight {name} reached {largest:.3g}"
    return None
