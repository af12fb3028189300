"""The one place that chooses where and in what precision models run.

`choose_device` needs torch and imports it lazily; `gpu_inventory` and `system_memory_gb` do not, so
the advisor and `doctor` can describe the hardware without loading torch.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
from dataclasses import dataclass

from tunewise.core.errors import DeviceError

PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class DeviceChoice:
    device: str        # "cuda" or "cpu"
    precision: str     # the compute precision: "bf16", "fp16" or "fp32"
    name: str
    memory_gb: float | None
    count: int = 1
    weights: str | None = None  # the precision weights load in, when it differs from `precision`

    @property
    def is_cuda(self) -> bool:
        return self.device == "cuda"

    @property
    def mixed(self) -> bool:
        """fp32 weights under a bf16/fp16 autocast (training on the CPU)."""
        return (self.weights or self.precision) != self.precision

    def torch_dtype(self):
        """The dtype to load weights in."""
        return _dtype(self.weights or self.precision)

    def torch_compute_dtype(self):
        """The dtype the arithmetic runs in (autocast's, where it differs from the weights')."""
        return _dtype(self.precision)


def _dtype(precision: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


@dataclass(frozen=True)
class GpuInfo:
    name: str
    memory_gb: float


def choose_device(device: str = "auto", precision: str = "auto", training: bool = False) -> DeviceChoice:
    """CUDA with bf16 (fp16 on pre-Ampere) when a GPU is there, else the CPU: bf16 where it has native
    bf16 units (AVX512-BF16 or AMX, where bf16 matmuls run 2-4x faster than fp32: bench/RESULTS.md),
    fp32 otherwise. Training on the CPU in bf16 keeps fp32 weights under a bf16 autocast (mixed
    precision), so the optimizer updates full-precision weights; inference loads bf16 weights."""
    import torch

    if device not in ("auto", "cuda", "cpu"):
        raise DeviceError(f"unknown device '{device}'; choose auto, cuda or cpu")
    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise DeviceError("--device cuda was asked for, but no CUDA GPU is available here")
    if device == "cpu" or not has_cuda:
        return _cpu_choice(precision, training)
    props = torch.cuda.get_device_properties(0)
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return DeviceChoice("cuda", precision, props.name, props.total_memory / 2**30, torch.cuda.device_count())


def _cpu_choice(precision: str, training: bool) -> DeviceChoice:
    native = cpu_has_bf16()
    if precision == "fp16":
        raise DeviceError("fp16 needs a CUDA GPU; on the CPU use bf16 (where the CPU has it) or fp32")
    if precision == "bf16" and not native:
        raise DeviceError("bf16 needs a CUDA GPU or a CPU with native bf16 (AVX512-BF16 or AMX); on this CPU use fp32")
    chosen = "bf16" if precision == "bf16" or (precision == "auto" and native) else "fp32"
    weights = "fp32" if training and chosen == "bf16" else None
    return DeviceChoice("cpu", chosen, "cpu", system_memory_gb(), os.cpu_count() or 1, weights)


def cpu_has_bf16() -> bool:
    """Native bf16 matrix instructions on this CPU (AVX512-BF16 or AMX tiles), as oneDNN uses them."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without the probes: fp32, as before
        return False


def gpu_inventory() -> list[GpuInfo]:
    """GPUs as nvidia-smi reports them; empty when there is none (no torch import)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, _, mem = line.rpartition(",")
        try:
            gpus.append(GpuInfo(name.strip(), float(mem) / 1024))
        except ValueError:
            continue
    return gpus


def system_memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def rss_mb() -> float:
    """This process's resident memory now, in MiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def peak_rss_mb() -> float:
    """This process's own peak RSS. VmHWM, not getrusage: Linux carries ru_maxrss over fork + exec, so a
    run started by a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as handle:
            line = next(l for l in handle if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
