"""Prompt tuning: a few trained virtual-token embeddings in front of every input; the model is frozen.

Skeleton: setup -> train -> save -> cleanup. The soft prompt is a standard peft adapter at OUT.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from tunewise.core.models import load_causal_lm
from tunewise.core.schema import TrainingRun
from tunewise.tuning import artefacts, common, context
from tunewise.tuning.config import TuneConfig


def run(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    ctx = context.start(config)
    try:
        model, tokenizer = setup(ctx)
        trainer, collator = common.train(ctx, model, tokenizer, progress)
        return artefacts.finish(ctx, trainer, collator, lambda folder: save(ctx, trainer.model, tokenizer, folder))
    finally:
        artefacts.cleanup(ctx)


def setup(ctx: context.Context):
    from peft import PromptTuningConfig, PromptTuningInit, get_peft_model
    from transformers import set_seed

    cfg = ctx.config
    set_seed(cfg.seed)
    model, tokenizer = load_causal_lm(cfg.model, ctx.device, cfg.load_policy())
    # Random init from the vocabulary's embeddings: text init needs a prompt that fits every model.
    config = PromptTuningConfig(
        task_type="CAUSAL_LM", num_virtual_tokens=cfg.num_virtual_tokens,
        prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,
    )
    return get_peft_model(model, config), tokenizer


def save(ctx: context.Context, model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
