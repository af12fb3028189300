"""`TuneConfig`: every knob of a tuning run, validated once, with defaults per method and model size."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import Field, ValidationError, model_validator

from tunewise.core.defaults import DEFAULT_GENERATOR
from tunewise.core.config import merge, parse_overrides, read_yaml
from tunewise.core.errors import ConfigError
from tunewise.core.schema import TrainingKnobs, describe_validation_error

METHODS = ("lora", "qlora", "full", "prompt-tuning", "head", "dpo")
Method = Literal["lora", "qlora", "full", "prompt-tuning", "head", "dpo"]
# DPOConfig.loss_type values of the installed TRL (1.16) that need nothing but pairs; ORPO and SimPO live
# in trl.experimental there, outside this stable API, so they are not offered.
DpoLoss = Literal["sigmoid", "ipo", "hinge", "robust", "sigmoid_norm", "apo_zero", "apo_down"]

# Fields left as None in a config are filled from here by `resolved()`; explicit values always win.
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "lora": {"lr": 2e-4, "epochs": 3.0, "batch_size": 4, "lora_r": 16, "lora_alpha": 32},
    "qlora": {"lr": 2e-4, "epochs": 3.0, "batch_size": 4, "lora_r": 16, "lora_alpha": 32},
    "full": {"lr": 2e-5, "epochs": 2.0, "batch_size": 4},
    # Soft prompts need a much larger step than weights to move at all (Lester et al. 2021 use 0.3).
    "prompt-tuning": {"lr": 3e-2, "epochs": 5.0, "batch_size": 4},
    # Only the classifier trains, so a high rate is safe and converges in few epochs.
    "head": {"lr": 1e-3, "epochs": 5.0, "batch_size": 8},
    # DPO on a LoRA adapter: a smaller step than SFT LoRA, since the reference is the starting point.
    "dpo": {"lr": 5e-5, "epochs": 3.0, "batch_size": 4, "lora_r": 16, "lora_alpha": 32},
}
# Bigger models get smaller micro-batches (memory) and more accumulation (same effective batch).
LARGE_MODEL_B = 3.0


class TuneConfig(TrainingKnobs):
    """What `tunewise tune` runs; `run.json` records the resolved copy. Plan `tuning:` blocks override it."""

    method: Method = "lora"
    model: str = DEFAULT_GENERATOR
    train: Path | None = None
    eval: Path | None = None
    out: Path | None = None
    task: Literal["auto", "sft", "classification"] = "auto"
    format: str | None = None
    system_prompt: str | None = None
    dpo_beta: float = Field(default=0.1, gt=0)
    dpo_loss: DpoLoss = "sigmoid"
    seed: int = 0
    report_to: Literal["none", "tensorboard"] = "none"
    resume: bool = False
    force: bool = False
    device: Literal["auto", "cuda", "cpu"] = "auto"
    nproc: int = Field(default=1, gt=0)
    launcher: Literal["torchrun", "accelerate"] = "torchrun"
    launch_config: Path | None = None
    nnodes: int = Field(default=1, gt=0)
    node_rank: int = Field(default=0, ge=0)
    master_addr: str = "127.0.0.1"
    master_port: int | None = Field(default=None, gt=0, lt=65536)
    trust_remote_code: bool | None = None   # None: the process's choice (`tunewise --trust-remote-code`)
    allow_pickle: bool | None = None        # None: the process's choice (`tunewise --allow-pickle`)
    auto: bool = False
    auto_trials: int = Field(default=4, gt=0)
    auto_steps: int = Field(default=20, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> "TuneConfig":
        if self.method == "head" and self.task == "sft":
            raise ValueError("method 'head' trains a classifier; use task 'classification' or 'auto'")
        if self.method == "dpo" and self.task == "classification":
            raise ValueError("method 'dpo' learns preferences between replies; use task 'sft' or 'auto'")
        if self.method == "prompt-tuning" and self.task == "classification":
            raise ValueError("method 'prompt-tuning' trains generation only; use task 'sft' or 'auto'")
        return self

    def resolved(self, model_params_b: float | None = None) -> "TuneConfig":
        """A copy with every unset field filled from the method's defaults and the model's size."""
        updates = {k: v for k, v in METHOD_DEFAULTS[self.method].items() if getattr(self, k) is None}
        updates.update(self.with_load_policy().model_dump(include={"trust_remote_code", "allow_pickle"}))
        if model_params_b is not None and model_params_b >= LARGE_MODEL_B and self.batch_size is None:
            updates.update(batch_size=1, grad_accum=max(self.grad_accum, 8))
        return self.model_copy(update=updates)

    def with_load_policy(self) -> "TuneConfig":
        """A copy with the load policy written out, so a launched worker reads it from its spec file."""
        from tunewise.core.models import current_load_policy

        process = current_load_policy()
        return self.model_copy(update={
            "trust_remote_code": process.trust_remote_code if self.trust_remote_code is None else self.trust_remote_code,
            "allow_pickle": process.allow_pickle if self.allow_pickle is None else self.allow_pickle,
        })

    def load_policy(self):
        """The `LoadPolicy` this run loads models with."""
        from tunewise.core.models import LoadPolicy

        resolved = self.with_load_policy()
        return LoadPolicy(trust_remote_code=resolved.trust_remote_code, allow_pickle=resolved.allow_pickle)

    def task_for(self, data_format: str) -> str:
        """`auto`: a head is a classifier; everything else learns to write the response."""
        if self.task != "auto":
            return self.task
        return "classification" if self.method == "head" else "sft"


def build_config(
    path: str | Path | None = None, flags: dict[str, Any] | None = None, overrides: Iterable[str] = ()
) -> TuneConfig:
    """Defaults <- YAML file <- `key=value` overrides <- flags the user gave (those not None)."""
    data = read_yaml(path) if path is not None else {}
    data = merge(data, parse_overrides(overrides))
    data.update({k: v for k, v in (flags or {}).items() if v is not None})
    try:
        return TuneConfig.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}{describe_validation_error(exc)}") from None
