"""Integrity checks of the artefacts tunewise writes (adapters, checkpoints), before any library loads them.

A truncated safetensors file or a checkpoint missing a file otherwise surfaces as a SafetensorError or a
hub lookup deep inside peft/transformers; here it is one line naming the damaged file. The safetensors
check reads only the header (stdlib), so it costs nothing next to loading the weights.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

from tunewise.core.errors import DamagedFileError, ModelError
from tunewise.core.files import read_json

MAX_HEADER_BYTES = 100_000_000
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def check_safetensors_file(path: Path) -> None:
    """The header parses and every tensor's bytes lie inside the file."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise DamagedFileError(path, f"truncated safetensors file ({size} bytes)")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, MAX_HEADER_BYTES):
            raise DamagedFileError(path, "truncated or corrupt safetensors file (its header runs past the end)")
        try:
            header = json.loads(handle.read(length))
        except (ValueError, RecursionError):
            raise DamagedFileError(path, "corrupt safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise DamagedFileError(path, "corrupt safetensors file (its header is not a mapping)")
    data_bytes = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise DamagedFileError(path, f"corrupt safetensors file (tensor '{name}' has no valid offsets)")
        if offsets[1] > data_bytes:
            raise DamagedFileError(path, f"truncated safetensors file (tensor '{name}' ends past the file's end)")


def check_adapter_folder(folder: Path) -> dict:
    """The adapter's config (a mapping naming its peft type) and intact weights; returns the config."""
    config = adapter_config(folder)
    check_adapter_weights(folder)
    return config


def adapter_config(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: adapter folder not found")
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise ModelError(f"{folder}: not a peft adapter folder (no adapter_config.json)")
    config = read_json(config_path)
    if not isinstance(config, dict) or not isinstance(config.get("peft_type"), str):
        raise DamagedFileError(config_path, "not an adapter config (no 'peft_type')")
    return config


def check_adapter_weights(folder: Path) -> None:
    weights = next((folder / n for n in ADAPTER_WEIGHTS if (folder / n).is_file()), None)
    if weights is None:
        raise DamagedFileError(folder, "the adapter has no weights file (adapter_model.safetensors)")
    if weights.suffix == ".safetensors":
        check_safetensors_file(weights)


def check_checkpoint(folder: Path) -> None:
    """A Trainer checkpoint that resuming can use: state, optimizer, scheduler and intact weights."""
    missing = [name for name in CHECKPOINT_FILES if not (folder / name).is_file()]
    if missing:
        raise DamagedFileError(folder, f"the checkpoint is missing {', '.join(missing)}")
    state = read_json(folder / "trainer_state.json")
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        raise DamagedFileError(folder / "trainer_state.json", "not a trainer state (no 'global_step')")
    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not any(folder.glob("*.bin")):
        raise DamagedFileError(folder, "the checkpoint has no weights file")
    for path in weights:
        check_safetensors_file(path)
