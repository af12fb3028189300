"""The one device choice: CPU precision follows the CPU's native bf16 support (the probe is patched
so every branch runs on any machine)."""
from __future__ import annotations

import pytest

from tunewise.core import device as device_module
from tunewise.core.device import choose_device
from tunewise.core.errors import DeviceError


@pytest.fixture(params=[True, False], ids=["native-bf16", "no-bf16"])
def cpu_bf16(request, monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: request.param)
    return request.param


def test_auto_on_the_cpu_uses_bf16_only_where_the_cpu_has_it(cpu_bf16):
    choice = choose_device("cpu")
    assert choice.precision == ("bf16" if cpu_bf16 else "fp32")
    assert not choice.mixed  # inference loads weights in the compute precision


def test_training_on_the_cpu_keeps_fp32_weights_under_bf16_compute(cpu_bf16):
    import torch

    choice = choose_device("cpu", training=True)
    assert choice.torch_dtype() == torch.float32
    assert choice.mixed is cpu_bf16


def test_fp32_when_asked_for_even_with_native_bf16(cpu_bf16):
    choice = choose_device("cpu", "fp32", training=True)
    assert (choice.precision, choice.mixed) == ("fp32", False)


def test_bf16_without_native_units_and_fp16_on_the_cpu_are_refused(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: False)
    with pytest.raises(DeviceError, match="on this CPU use fp32"):
        choose_device("cpu", "bf16")
    with pytest.raises(DeviceError, match="fp16 needs a CUDA GPU"):
        choose_device("cpu", "fp16")
