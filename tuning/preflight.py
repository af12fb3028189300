"""Checks that refuse a run in one line before any training starts: a max-seq-len beyond the model's
context, a batch that cannot fit this device's memory, a precision this device does not run.

The memory check uses the advisor's training-memory formula (pure arithmetic, fitted to the peaks that
bench/tuning.py measures) on the model's own shape, read from its config.json.
"""
from __future__ import annotations

import json
from pathlib import Path

from tunewise.core.errors import ConfigError, DeviceError
from tunewise.tuning.config import TuneConfig


def check_before_training(config: TuneConfig, device, folder: str) -> None:
    """Raise ConfigError/DeviceError when the run cannot work on this model and device."""
    model_config = _model_config(folder)
    check_context(config, model_config)
    check_precision(device)
    check_memory(config, device, model_config)


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


def check_memory(config: TuneConfig, device, model_config: dict) -> None:
    """Refuse a batch whose estimated peak is above the device's memory (RAM on the CPU)."""
    from tunewise.advisor.estimate import Hardware, training_memory_gb

    if not device.memory_gb or "hidden_size" not in model_config or config.method == "qlora":
        return
    hardware = Hardware(gpu_memory_gb=device.memory_gb) if device.is_cuda else Hardware(ram_gb=device.memory_gb)
    # Top layers only: embeddings and most weights frozen, closer to an adapter's states than to full's.
    method = "lora" if config.method == "full" and config.train_top_layers else config.method
    need = training_memory_gb(method, _shape(model_config), config.max_seq_len, config.batch_size, hardware,
                              precision="fp32" if device.precision == "fp32" else "bf16",
                              checkpointing=config.gradient_checkpointing)
    if need > device.memory_gb:
        raise DeviceError(f"batch {config.batch_size} x {config.max_seq_len} tokens needs about {need:.0f} GB for "
                          f"{config.method} on this model, but this device has {device.memory_gb:.0f} GB; lower "
                          "--batch-size or --max-seq-len (raise grad_accum to keep the effective batch), or set "
                          "gradient_checkpointing=true")


def _shape(model_config: dict):
    from tunewise.advisor.estimate import ModelShape

    hidden, layers = model_config["hidden_size"], model_config.get("num_hidden_layers", 1)
    vocab = model_config.get("vocab_size", 32000)
    inner = model_config.get("intermediate_size", 4 * hidden)
    params = layers * (4 * hidden * hidden + 3 * hidden * inner) + vocab * hidden
    return ModelShape(params / 1e9, hidden, layers, vocab, model_config.get("num_attention_heads", 1))
