"""Environment checks behind `tunewise doctor`; each returns OK/FAIL with the fix."""
from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from typing import Callable

from tunewise.core.device import gpu_inventory, system_memory_gb
from tunewise.core.errors import TunewiseError
from tunewise.core.files import app_home
from tunewise.core.models import BUNDLED, load_embedder, load_tokenizer, model_dir


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, platform.python_version(), "use Python 3.11 or newer")


def _torch() -> Check:
    try:
        import torch
    except ImportError:
        return Check("torch", False, "not installed", "pip install torch==2.13.0 (CPU) or a CUDA build")
    cuda = f"CUDA {torch.version.cuda}" if torch.cuda.is_available() else "no CUDA (CPU training)"
    return Check("torch", True, f"{torch.__version__}, {cuda}")


def _gpu() -> Check:
    gpus = gpu_inventory()
    if not gpus:
        return Check("gpu", True, "none found; QLoRA and bf16 need a CUDA GPU, everything else runs on the CPU")
    return Check("gpu", True, "; ".join(f"{g.name} {g.memory_gb:.0f} GiB" for g in gpus))


def _memory() -> Check:
    ram = system_memory_gb()
    if ram is None:
        return Check("memory", True, "unknown")
    return Check("memory", ram >= 4, f"{ram:.1f} GiB RAM", "the bundled models need about 4 GiB")


def _disk() -> Check:
    home = app_home()
    free = shutil.disk_usage(home).free / 2**30
    return Check("disk", free >= 2, f"{free:.1f} GiB free at {home}", "free 2 GiB or set TUNEWISE_HOME elsewhere")


def _model(name: str, load: bool) -> Check:
    model = BUNDLED[name]
    try:
        source = model.source_path()
        if not load:
            return Check(name, True, f"present at {source}")
        if model.role == "embedder":
            dim = load_embedder(name).get_embedding_dimension()
            return Check(name, True, f"loads, {dim}-dim embeddings")
        folder = model_dir(name)
        tokens = len(load_tokenizer(name)("Hello")["input_ids"])
        return Check(name, tokens > 0, f"loads from {folder}")
    except TunewiseError as exc:
        return Check(name, False, str(exc), model.install)


def _chroma() -> Check:
    try:
        import chromadb
    except ImportError:
        return Check("chromadb", False, "not importable", "pip install chromadb")
    return Check("chromadb", True, chromadb.__version__)


def run_checks(load_models: bool = True) -> list[Check]:
    checks: list[Callable[[], Check]] = [_python, _torch, _gpu, _memory, _disk]
    results = [check() for check in checks]
    results += [_model(name, load_models) for name in BUNDLED]
    results.append(_chroma())
    return results
