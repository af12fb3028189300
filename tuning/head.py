"""Classifier head: the base model stays frozen (attention and MLP untouched); only a linear classifier
on its last-token representation trains, on states the base computes once (tuning/frozen.py). Also the
loader for every classifier this package writes.

Skeleton: setup -> train -> save -> cleanup.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from tunewise.core.errors import ModelError
from tunewise.core.files import read_json, write_json
from tunewise.core.models import LoadPolicy, check_safetensors, load_policy, load_tokenizer, model_dir, pickle_allowed
from tunewise.core.schema import TrainingRun
from tunewise.tuning import artefacts, common, context
from tunewise.tuning.config import TuneConfig

CLASSIFIER_FILE = "classifier.json"   # label mapping and how to rebuild the model, beside the weights
HEAD_WEIGHTS = "head.safetensors"


def run(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    ctx = context.start(config)
    try:
        model, tokenizer = setup(ctx)
        started = time.perf_counter()
        head, data = stored_states(ctx, model, tokenizer)
        states_seconds = time.perf_counter() - started
        trainer, collator = common.train(ctx, head, tokenizer, progress, data=data)
        ctx.train_seconds += states_seconds       # computing the states is part of what training costs
        return artefacts.finish(ctx, trainer, collator, lambda folder: save(ctx, trainer.model, tokenizer, folder))
    finally:
        artefacts.cleanup(ctx)


def setup(ctx: context.Context):
    from transformers import set_seed

    set_seed(ctx.config.seed)
    model, tokenizer = load_sequence_classifier(model_dir(ctx.config.model), ctx.labels, ctx.device,
                                                ctx.config.load_policy())
    return model, tokenizer


def stored_states(ctx: context.Context, model, tokenizer):
    """The trainable `score` as a model of its own, and the examples with the frozen base's states."""
    from tunewise.tuning import frozen

    # Nothing to recompute: the base does not run while the head trains.
    ctx.config = ctx.config.model_copy(update={"gradient_checkpointing": False})
    data = common.batches(ctx, tokenizer)
    base = getattr(model, model.base_model_prefix)
    ctx.frozen_params = sum(p.numel() for p in base.parameters())
    with_states = lambda rows: frozen.with_states(rows, frozen.last_token_states(  # noqa: E731
        base, rows, ctx.device, tokenizer.pad_token_id))
    data.train = with_states(data.train)
    data.eval = with_states(data.eval) if data.eval is not None else None
    data.collator = frozen.FeatureCollator()
    return frozen.head_only(model.score), data


def save(ctx: context.Context, model, tokenizer, folder: Path) -> None:
    from safetensors.torch import save_file

    head = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items() if k.startswith("score.")}
    save_file(head, str(folder / HEAD_WEIGHTS))
    tokenizer.save_pretrained(folder)
    write_classifier_info(folder, "head", ctx.labels, ctx.config.max_seq_len, base=model_dir(ctx.config.model))


def load_sequence_classifier(folder: str, labels: list[str], device=None, policy: LoadPolicy | None = None):
    """A sequence-classification model over a causal LM's weights (new `score` layer), plus tokenizer."""
    from transformers import AutoModelForSequenceClassification

    check_safetensors(folder, pickle_allowed(policy))
    tokenizer = load_tokenizer(folder, policy)
    kwargs = {"dtype": device.torch_dtype()} if device is not None else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)}, **load_policy(policy), **kwargs,
    )
    # The model scores the last non-pad token, so it must know which id is padding.
    model.config.pad_token_id = tokenizer.pad_token_id
    if device is not None:
        model.to(device.device)
    return model, tokenizer


def write_classifier_info(folder: Path, kind: str, labels: list[str], max_seq_len: int, base: str | None = None) -> None:
    write_json(folder / CLASSIFIER_FILE, {"kind": kind, "labels": labels, "max_seq_len": max_seq_len, "base": base})


class Classifier:
    """A trained classifier: `predict(texts) -> labels`."""

    def __init__(self, model, tokenizer, labels: list[str], max_seq_len: int):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.labels = labels
        self.max_seq_len = max_seq_len

    def predict(self, texts: list[str], batch_size: int = 16) -> list[str]:
        return [label for label, _ in self.predict_with_confidence(texts, batch_size)]

    def predict_with_confidence(self, texts: list[str], batch_size: int = 16) -> list[tuple[str, float]]:
        """Each text's label and that label's softmax probability over the label set (a router feature)."""
        import torch

        out: list[tuple[str, float]] = []
        for i in range(0, len(texts), batch_size):
            batch = self.tokenizer(texts[i:i + batch_size], add_special_tokens=False, truncation=True,
                                   max_length=self.max_seq_len, padding=True, return_tensors="pt")
            with torch.no_grad():
                probs = self.model(**batch.to(self.model.device)).logits.float().softmax(-1)
            best = probs.argmax(-1).tolist()
            out.extend((self.labels[j], float(probs[row, j])) for row, j in enumerate(best))
        return out


def load_classifier(folder: str | Path) -> Classifier:
    """Load any classifier written by `tune` (head, LoRA or full) with its label mapping."""
    folder = Path(folder)
    info_path = folder / CLASSIFIER_FILE
    if not info_path.is_file():
        raise ModelError(f"{folder}: not a classifier output (no {CLASSIFIER_FILE})")
    info = read_json(info_path)
    labels, kind = info["labels"], info["kind"]
    if kind == "full":
        model, tokenizer = load_sequence_classifier(str(folder), labels)
    elif kind == "head":
        from safetensors.torch import load_file

        model, tokenizer = load_sequence_classifier(info["base"], labels)
        model.load_state_dict(load_file(str(folder / HEAD_WEIGHTS)), strict=False)
    elif kind == "lora":
        from peft import PeftModel

        base = json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
        model, tokenizer = load_sequence_classifier(base, labels)
        model = PeftModel.from_pretrained(model, str(folder))
    else:
        raise ModelError(f"{info_path}: unknown classifier kind '{kind}'")
    return Classifier(model, tokenizer, labels, info["max_seq_len"])
