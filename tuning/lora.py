"""LoRA and QLoRA: low-rank adapters on a frozen base (QLoRA: a 4-bit base, CUDA only).

Skeleton: setup -> train -> save -> cleanup. The adapter is written in peft's standard format at the
root of OUT, so `peft.PeftModel.from_pretrained(base, OUT)` loads it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from tunewise.core.errors import DeviceError
from tunewise.core.models import load_causal_lm, load_policy, model_dir
from tunewise.core.schema import TrainingRun
from tunewise.tuning import artefacts, common, context
from tunewise.tuning.config import TuneConfig
from tunewise.tuning.head import load_sequence_classifier, write_classifier_info


def run(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    ctx = context.start(config, preflight)
    try:
        model, tokenizer = setup(ctx)
        trainer, collator = common.train(ctx, model, tokenizer, progress)
        return artefacts.finish(ctx, trainer, collator, lambda folder: save(ctx, trainer.model, tokenizer, folder))
    finally:
        artefacts.cleanup(ctx)


def preflight(config: TuneConfig, device) -> None:
    """QLoRA's 4-bit kernels (bitsandbytes) need CUDA: refuse before anything is written."""
    if config.method != "qlora":
        return
    if not device.is_cuda:
        raise DeviceError("QLoRA needs a CUDA GPU (4-bit bitsandbytes kernels); on this CPU use --method lora")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise DeviceError("QLoRA needs bitsandbytes; install it with: pip install 'tunewise[gpu]'") from None


def setup(ctx: context.Context):
    from peft import LoraConfig, get_peft_model
    from transformers import set_seed

    cfg = ctx.config
    set_seed(cfg.seed)  # the adapters' random init must be the same in every run with this seed
    classify = ctx.task == "classification"
    if classify:
        model, tokenizer = load_sequence_classifier(model_dir(cfg.model), ctx.labels, ctx.device, cfg.load_policy())
    elif cfg.method == "qlora":
        model, tokenizer = _load_4bit(ctx)
    else:
        model, tokenizer = load_causal_lm(cfg.model, ctx.device, cfg.load_policy())
    lora = LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules, task_type="SEQ_CLS" if classify else "CAUSAL_LM",
    )
    return get_peft_model(model, lora), tokenizer


def _load_4bit(ctx: context.Context):
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from tunewise.core.models import load_tokenizer

    quant = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=ctx.device.torch_dtype() if ctx.device.precision != "fp32" else torch.float32,
    )
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    model = AutoModelForCausalLM.from_pretrained(
        model_dir(ctx.config.model), quantization_config=quant, device_map={"": rank},
        dtype=ctx.device.torch_dtype(), **load_policy(ctx.config.load_policy()),
    )
    return prepare_model_for_kbit_training(model), load_tokenizer(ctx.config.model, ctx.config.load_policy())


def save(ctx: context.Context, model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    if ctx.task == "classification":
        write_classifier_info(folder, "lora", ctx.labels, ctx.config.max_seq_len)
