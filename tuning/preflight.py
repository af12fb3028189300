"""Checks that refuse a run in one line before any training starts: a max-seq-len beyond the model's
context, a batch that cannot fit this device's memory, a precision this device does not run.

The memory check uses the advisor's training-memory formula (pure arithmetic, checked against peaks
measured in bench/) on the model's own shape, read from its config.json; where only gradient
checkpointing makes the batch fit, it is switched on rather than refused.
"""
from __future__ import annotations

import json
from pathlib import Path

from tunewise.core.errors import ConfigError, DeviceError
from tunewise.tuning.config import TuneConfig


def check_before_training(config: TuneConfig, device, folder: str) -> TuneConfig:
    """The config to run (gradient checkpointing switched on where only that makes the batch fit), or
    ConfigError/DeviceError when the run cannot work on this model and device."""
    model_config = _model_config(folder)
    check_context(config, model_config)
    check_precision(device)
    return fit_memory(config, device, model_config)


def _model_config(folder: str) -> dict:
    path = Path(folder) / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def check_context(config: TuneConfig, model_config: dict) -> None:
    context = model_config.get("max_position_embeddings")
    if context and config.max_seq_len > context:
        raise ConfigError(f"max_seq_len {config.max_seq_len} is beyond this model's context of {context} tokens; "
                          f"use --max-seq-len {context} or less")


def check_precision(device) -> None:
    if device.is_cuda and device.precision == "bf16":
        import torch

        if not torch.cuda.is_bf16_supported():
            raise DeviceError(f"bf16 is not supported on {device.name}; use --precision fp16 or fp32")


def fit_memory(config: TuneConfig, device, model_config: dict) -> TuneConfig:
    """Refuse a batch whose estimated peak is above the device's memory (RAM on the CPU), unless
    gradient checkpointing brings it under: then the returned config has it on (run.json says so)."""
    if not device.memory_gb or "hidden_size" not in model_config or config.method == "qlora":
        return config
    need = estimated_peak_gb(config, device, model_config, config.gradient_checkpointing)
    if need <= device.memory_gb:
        return config
    if not config.gradient_checkpointing and config.method in ("lora", "full"):
        if estimated_peak_gb(config, device, model_config, checkpointing=True) <= device.memory_gb:
            return config.model_copy(update={"gradient_checkpointing": True})
    raise DeviceError(f"batch {config.batch_size} x {config.max_seq_len} tokens needs about {need:.0f} GB for "
                      f"{config.method} on this model, but this device has {device.memory_gb:.0f} GB; lower "
                      "--batch-size or --max-seq-len (raise grad_accum to keep the effective batch)")


def estimated_peak_gb(config: TuneConfig, device, model_config: dict, checkpointing: bool) -> float:
    from tunewise.advisor.estimate import Hardware, training_memory_gb

    hardware = Hardware(gpu_memory_gb=device.memory_gb) if device.is_cuda else Hardware(ram_gb=device.memory_gb)
    # Top layers only: embeddings and most weights frozen, closer to an adapter's states than to full's.
    method = "lora" if config.method == "full" and config.train_top_layers else config.method
    return training_memory_gb(method, _shape(model_config), config.max_seq_len, config.batch_size, hardware,
                              precision=_estimate_precision(device), checkpointing=checkpointing)


def _estimate_precision(device) -> str:
    """The advisor's name for how this device trains: fp32, mixed (fp32 weights, bf16 compute) or bf16."""
    if device.precision == "fp32":
        return "fp32"
    return "mixed" if device.mixed else "bf16"


def _shape(model_config: dict):
    from tunewise.advisor.estimate import ModelShape

    hidden, layers = model_config["hidden_size"], model_config.get("num_hidden_layers", 1)
    vocab = model_config.get("vocab_size", 32000)
    inner = model_config.get("intermediate_size", 4 * hidden)
    params = layers * (4 * hidden * hidden + 3 * hidden * inner) + vocab * hidden
    return ModelShape(params / 1e9, hidden, layers, vocab, model_config.get("num_attention_heads", 1))
