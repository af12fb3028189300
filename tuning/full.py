"""Full fine-tuning: every weight trains, or only the top N transformer layers (`train_top_layers`).

Skeleton: setup -> train -> save -> cleanup. OUT holds a safetensors model and its tokenizer, loadable
with `AutoModelForCausalLM.from_pretrained(OUT)` (or `tuning.head.load_classifier(OUT)` for a classifier).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from tunewise.core.errors import ConfigError
from tunewise.core.models import load_causal_lm, model_dir
from tunewise.core.schema import TrainingRun
from tunewise.tuning import artefacts, common, context
from tunewise.tuning.config import TuneConfig
from tunewise.tuning.head import load_sequence_classifier, write_classifier_info


def run(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    ctx = context.start(config)
    try:
        model, tokenizer = setup(ctx)
        trainer, collator = common.train(ctx, model, tokenizer, progress)
        return artefacts.finish(ctx, trainer, collator, lambda folder: save(ctx, trainer.model, tokenizer, folder))
    finally:
        artefacts.cleanup(ctx)


def setup(ctx: context.Context):
    from transformers import set_seed

    cfg = ctx.config
    set_seed(cfg.seed)
    if ctx.task == "classification":
        model, tokenizer = load_sequence_classifier(model_dir(cfg.model), ctx.labels, ctx.device, cfg.load_policy())
    else:
        model, tokenizer = load_causal_lm(cfg.model, ctx.device, cfg.load_policy())
    if cfg.train_top_layers is not None:
        freeze_below(model, cfg.train_top_layers)
    return model, tokenizer


def freeze_below(model, top: int) -> None:
    """Train only the top `top` decoder layers, the final norm and any classifier head.

    Embeddings stay frozen (and with them a tied LM head), which is most of a small model's weights.
    """
    layers = _decoder_layers(model)
    if top > len(layers):
        raise ConfigError(f"train_top_layers is {top}, but the model has only {len(layers)} layers")
    for param in model.parameters():
        param.requires_grad = False
    trainable = list(layers[len(layers) - top:])
    body = model.get_decoder() if hasattr(model, "get_decoder") else model.base_model
    trainable += [m for name, m in body.named_children() if "norm" in name]
    trainable += [getattr(model, "score")] if hasattr(model, "score") else []
    for module in trainable:
        for param in module.parameters():
            param.requires_grad = True


def _decoder_layers(model):
    import torch

    count = model.config.num_hidden_layers
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    raise ConfigError("train_top_layers: cannot find this model's list of decoder layers")


def save(ctx: context.Context, model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    if ctx.task == "classification":
        write_classifier_info(folder, "full", ctx.labels, ctx.config.max_seq_len)
