"""The Trainer wiring every method shares: tokenised examples, TrainingArguments, the training loop
with resume, and progress.

Each method module (lora, full, prompt, head) runs the same skeleton:
`ctx = context.start(config)` -> its own `setup` -> `common.train(ctx, ...)` ->
`artefacts.finish(ctx, ..., save)` -> `artefacts.cleanup(ctx)`.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

from tunewise.tuning.casts import share_input_casts
from tunewise.tuning.config import TuneConfig
from tunewise.tuning.context import CHECKPOINTS, Context, last_checkpoint
from tunewise.tuning.guards import divergence_guard
from tunewise.tuning.examples import EpochLengthSampler, PadCollator, encode_classification, encode_sft

@dataclass
class TrainProgress:
    """One progress report: the CLI turns it into a rich bar (loss, tokens/s, ETA)."""

    step: int
    total: int
    loss: float | None = None
    tokens_per_s: float | None = None
    phase: str = "train"


def encode(ctx: Context, tokenizer) -> tuple[list[dict], list[dict] | None]:
    """Tokenised train and eval examples for the run's task."""
    cfg = ctx.config
    if ctx.task == "classification":
        index = {label: i for i, label in enumerate(ctx.labels)}
        make = lambda data: encode_classification(data, tokenizer, index, cfg.max_seq_len)  # noqa: E731
    else:
        make = lambda data: encode_sft(data, tokenizer, cfg.max_seq_len, cfg.system_prompt)  # noqa: E731
    return make(ctx.train_data), (make(ctx.eval_data) if ctx.eval_data is not None else None)


def training_arguments(ctx: Context, train_examples: int, args_class=None, **extra):
    """TrainingArguments (or a subclass such as TRL's DPOConfig) for the run: device/precision from the one device choice, warmup in steps,
    optional gradient checkpointing, periodic checkpoints under OUT/checkpoints."""
    from transformers import TrainingArguments

    cfg = ctx.config
    if cfg.report_to == "tensorboard":
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(ctx.out / "logs")
    cuda = ctx.device.is_cuda
    kwargs = dict(
        output_dir=str(ctx.out / CHECKPOINTS), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        warmup_steps=warmup_steps(cfg, train_examples, ctx.world_size),
        weight_decay=cfg.weight_decay, lr_scheduler_type="linear",
        logging_steps=cfg.logging_steps, logging_first_step=True, save_strategy="steps",
        save_steps=cfg.save_steps, save_total_limit=2, seed=cfg.seed, data_seed=cfg.seed,
        report_to=cfg.report_to, disable_tqdm=True, prediction_loss_only=True,
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        remove_unused_columns=False, label_names=["labels"], use_cpu=not cuda,
        bf16=ctx.device.precision == "bf16", fp16=cuda and ctx.device.precision == "fp16",  # CPU: autocast
        ddp_backend="gloo" if not cuda and ctx.world_size > 1 else None, dataloader_num_workers=0,
    )
    kwargs.update(extra)
    return (args_class or TrainingArguments)(**kwargs)


def warmup_steps(cfg: TuneConfig, train_examples: int, world_size: int = 1) -> int:
    """`warmup_ratio` of the run's optimizer steps, as a whole number of steps."""
    if cfg.max_steps:
        total = cfg.max_steps
    else:
        batches = math.ceil(train_examples / (cfg.batch_size * world_size))
        total = math.ceil(max(math.ceil(batches / cfg.grad_accum), 1) * cfg.epochs)
    return math.ceil(total * cfg.warmup_ratio)


def make_collator(ctx: Context, tokenizer):
    """The loss on response positions only, where the model allows it: causal-LM tuning with LoRA or
    full weights, in padded batches or (`packing`) padding-free rows. Prompt tuning prepends virtual
    tokens (they shift the positions) and classifiers read one position: plain padded batches."""
    from tunewise.tuning.packing import PackedCollator, ResponsePadCollator, response_loss

    if ctx.task != "sft" or ctx.config.method == "prompt-tuning":
        return PadCollator(tokenizer.pad_token_id), None
    if ctx.config.packing:
        return PackedCollator(), response_loss
    return ResponsePadCollator(tokenizer.pad_token_id), response_loss


@dataclass
class Batches:
    """What the Trainer trains and evaluates on: examples (each with its `input_ids`, whose lengths group
    the batches), the collator that batches them and the loss that reads the batch (None: the model's)."""

    train: list[dict]
    eval: list[dict] | None
    collator: object
    loss: Callable | None = None


def batches(ctx: Context, tokenizer) -> Batches:
    """The run's tokenised examples with their collator and loss."""
    train_set, eval_set = encode(ctx, tokenizer)
    return Batches(train_set, eval_set, *make_collator(ctx, tokenizer))


def train(ctx: Context, model, tokenizer, progress: Callable | None = None, args=None, data: Batches | None = None):
    """Run the Trainer (resuming from the last checkpoint when asked) on `data` (default: the run's
    tokenised examples); returns (trainer, collator)."""
    from transformers import PrinterCallback, set_seed

    set_seed(ctx.config.seed)
    share_input_casts(model, ctx.device)
    data = data or batches(ctx, tokenizer)
    train_set, eval_set, collator, loss = data.train, data.eval, data.collator, data.loss
    trainer = _trainer_class()(
        model=model, args=args or training_arguments(ctx, len(train_set)), train_dataset=train_set,
        eval_dataset=eval_set, data_collator=collator, compute_loss_func=loss, processing_class=tokenizer,
        callbacks=[divergence_guard(ctx.config.lr, ctx.out / CHECKPOINTS),
                   *([ProgressReporter(collator, progress)] if progress else [])],
    )
    trainer.remove_callback(PrinterCallback)  # it prints log dicts to stdout, which --json keeps clean
    ctx.eval_loss_before = _evaluate(trainer, eval_set)
    resume = str(last_checkpoint(ctx.out)) if ctx.config.resume else None
    collator.reset()
    ctx.train_seconds = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    ctx.train_seconds = time.perf_counter() - ctx.train_seconds
    ctx.train_tokens, ctx.padding_fraction = collator.real_tokens, collator.padding_fraction
    ctx.eval_loss_after = _evaluate(trainer, eval_set)
    return trainer, collator


def _trainer_class():
    """The Trainer with a resume-safe, length-grouped training order."""
    from transformers import Trainer

    class TuneTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            data = train_dataset if train_dataset is not None else self.train_dataset
            group = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
            return EpochLengthSampler([len(f["input_ids"]) for f in data], group, self.args.seed)

    return TuneTrainer


def _evaluate(trainer, eval_set) -> float | None:
    return float(trainer.evaluate()["eval_loss"]) if eval_set else None


def ProgressReporter(collator, progress: Callable):  # noqa: N802 - a class factory
    """A TrainerCallback, built here so that importing this module does not import transformers."""
    from transformers import TrainerCallback

    class Reporter(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.t0 = time.perf_counter()
            progress(TrainProgress(state.global_step, state.max_steps))

        def on_step_end(self, args, state, control, **kwargs):
            last = next((h["loss"] for h in reversed(state.log_history) if "loss" in h), None)
            rate = collator.real_tokens / max(time.perf_counter() - self.t0, 1e-9)
            progress(TrainProgress(state.global_step, state.max_steps, last, rate))

    return Reporter()
