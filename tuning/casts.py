"""One bf16 copy of a Linear layer's input under the CPU's autocast, however many layers read it.

Training on the CPU in bf16 runs under autocast over fp32 weights (core/device.py). Autocast casts the
input of every Linear to bf16 on its own and each Linear keeps its copy for the backward pass: q, k and v
each keep one of the same normed hidden state, gate and up one each of theirs, and every LoRA adapter a
second one beside its base layer's (peft casts the input to the adapter's fp32 first, so autocast makes
yet another bf16 copy). `share_input_casts` casts each input once and hands the same bf16 tensor to every
Linear that reads it, and lets peft's adapters take it as it is. Autocast would have rounded each copy
the same way, and each layer's gradient is cast back to fp32 before the gradients meet, as autocast's
casts do, so losses and gradients are unchanged bit for bit (tests/component/test_tuning_methods.py).
LoRA's peak at 8 x 512 on the CPU fell by 12% (bench/RESULTS.md).
"""
from __future__ import annotations

import weakref


def _alias():
    """An autograd step that hands a layer the shared bf16 copy of `x` and, going back, casts the layer's
    gradient to x's dtype before it is summed with the others at `x`, as autocast's own cast does."""
    import torch

    class Alias(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, copy):
            ctx.dtype = x.dtype
            return copy.view_as(copy)

        @staticmethod
        def backward(ctx, grad):
            return grad.to(ctx.dtype), None

    return Alias


class _SharedCasts:
    """Forward pre-hooks that give every Linear the one bf16 copy of its input. Only weak references are
    held: a copy lives as long as the backward pass keeps it (without gradients, until its layer is done)."""

    def __init__(self, dtype) -> None:
        self.dtype = dtype
        self.alias = _alias()
        self.copies: dict[int, tuple[weakref.ref, int, weakref.ref]] = {}

    def clear(self, module, args) -> None:  # a pre-hook on the whole model: one forward's entries at a time
        self.copies.clear()

    def cast(self, module, args):
        import torch

        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or x.dtype != torch.float32 or not torch.is_autocast_enabled("cpu"):
            return None
        source, version, held = self.copies.get(id(x), (None, None, None))
        # An id is reused once its tensor is gone, and a tensor changed in place needs a new copy.
        copy = held() if held is not None and source() is x and version == x._version else None
        if copy is None:
            with torch.no_grad():
                copy = x.to(self.dtype)
            self.copies[id(x)] = (weakref.ref(x), x._version, weakref.ref(copy))
        return (self.alias.apply(x, copy), *args[1:])


def share_input_casts(model, device) -> int:
    """Install the shared casts on `model` when it trains under the CPU's bf16 autocast (fp32 weights);
    returns how many Linear layers read a shared copy (0: nothing to share on this device)."""
    import torch

    if not device.mixed or device.is_cuda:
        return 0
    shared = _SharedCasts(device.torch_compute_dtype())
    model.register_forward_pre_hook(shared.clear)
    layers = 0
    for module in model.modules():
        if hasattr(module, "cast_input_dtype_enabled"):   # a peft adapter: its lora_A reads the input as it is
            module.cast_input_dtype_enabled = False
        if isinstance(module, torch.nn.Linear):
            module.register_forward_pre_hook(shared.cast)
            layers += 1
    return layers
