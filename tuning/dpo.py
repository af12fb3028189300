"""DPO: preference tuning of a LoRA adapter through TRL's DPOTrainer (the loss variant is `dpo_loss`,
any of TRL's pair losses: sigmoid = DPO, ipo, hinge, robust, ...).

Skeleton: setup -> train -> save -> cleanup, as in lora.py. The reference model is the base itself
(TRL disables the adapter to score it), so no second copy of the weights is held. OUT holds a standard
peft adapter, `run.json`, and `preference.json`: the implicit-reward accuracy and DPO loss on the
training pairs (and on --eval pairs) before and after training.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from tunewise.core.files import write_json
from tunewise.core.models import load_causal_lm
from tunewise.core.preference import PreferenceSet, as_trl_rows, check_prompt_lengths, load_preferences
from tunewise.core.schema import TrainingRun
from tunewise.tuning import artefacts, common, context
from tunewise.tuning.casts import share_input_casts
from tunewise.tuning.config import TuneConfig

PREFERENCE_FILE = "preference.json"


def run(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    ctx = context.start(config, load=lambda path, _format: load_preferences(path))
    try:
        model, tokenizer, lora = setup(ctx)
        trainer, counter, scores = train(ctx, model, tokenizer, lora, progress)
        run = artefacts.finish(ctx, trainer, counter, lambda folder: save(trainer.model, tokenizer, folder))
        if ctx.is_main:
            write_json(ctx.out / PREFERENCE_FILE, scores)
        return run
    finally:
        artefacts.cleanup(ctx)


def setup(ctx: context.Context):
    """The base model, its tokenizer, and the LoRA config TRL wraps it with (TRL seeds the adapter's init
    with `args.seed` before wrapping); over-long prompts are refused before training."""
    from peft import LoraConfig

    model, tokenizer = load_causal_lm(ctx.config.model, ctx.device, ctx.config.load_policy())
    refuse_long_prompts(ctx, model, tokenizer)
    cfg = ctx.config
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules, task_type="CAUSAL_LM")
    return model, tokenizer, lora


def refuse_long_prompts(ctx: context.Context, model, tokenizer) -> None:
    """A prompt (with the system turn, through the chat template) must leave room in the model's context."""
    context = int(getattr(model.config, "max_position_embeddings", None) or ctx.config.max_seq_len)

    def count(conversation) -> int:
        return len(tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True,
                                                 return_dict=True)["input_ids"])

    for data in (ctx.train_data, ctx.eval_data):
        if data is not None:
            check_prompt_lengths(data, count, context, ctx.config.system_prompt)


def dataset_of(data: PreferenceSet, system: str | None):
    from datasets import Dataset, disable_progress_bars

    disable_progress_bars()  # the CLI shows its own progress
    return Dataset.from_list(as_trl_rows(data.pairs, system))


def train(ctx: context.Context, model, tokenizer, lora, progress: Callable | None = None):
    """DPOTrainer over the pairs; returns (trainer, token counter, before/after preference scores)."""
    from transformers import PrinterCallback, set_seed
    from trl import DPOConfig, DPOTrainer

    cfg = ctx.config
    set_seed(cfg.seed)
    train_set = dataset_of(ctx.train_data, cfg.system_prompt)
    eval_set = dataset_of(ctx.eval_data, cfg.system_prompt) if ctx.eval_data is not None else None
    args = common.training_arguments(ctx, len(ctx.train_data), DPOConfig, beta=cfg.dpo_beta, loss_type=[cfg.dpo_loss],
                                     max_length=cfg.max_seq_len, label_names=[], dataset_num_proc=None,
                                     activation_checkpointing=False)  # as LoRA SFT trains: a like-for-like step
    counter = TokenCounter(tokenizer.pad_token_id or tokenizer.eos_token_id, cfg.max_seq_len)
    trainer = DPOTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
                         processing_class=tokenizer, peft_config=lora, data_collator=counter,
                         callbacks=[common.ProgressReporter(counter, progress)] if progress else None)
    trainer.remove_callback(PrinterCallback)
    share_input_casts(trainer.model, ctx.device)  # the model with the adapter DPOTrainer put on the base
    before = preference_scores(trainer, train_set, eval_set)
    resume = str(context.last_checkpoint(ctx.out)) if cfg.resume else None
    counter.reset()
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    ctx.train_seconds = time.perf_counter() - started
    ctx.train_tokens, ctx.padding_fraction = counter.real_tokens, counter.padding_fraction
    after = preference_scores(trainer, train_set, eval_set)
    ctx.eval_loss_before, ctx.eval_loss_after = before.get("eval_loss"), after.get("eval_loss")
    return trainer, counter, {"pairs": {"train": len(train_set), "eval": len(eval_set) if eval_set else 0},
                              "beta": cfg.dpo_beta, "loss_type": cfg.dpo_loss, "before": before, "after": after}


def preference_scores(trainer, train_set, eval_set) -> dict[str, float]:
    """DPO loss and implicit-reward accuracy (chosen's reward above rejected's) on the training pairs and,
    when given, the eval pairs. Before training the policy equals the reference: every reward is 0, so
    accuracy is 0 (a tie is not a win) and the loss is ln 2."""
    out = {}
    for name, data in (("train", train_set), ("eval", eval_set)):
        if data is None:
            continue
        found = trainer.evaluate(eval_dataset=data, metric_key_prefix=name)
        out[f"{name}_loss"] = round(float(found[f"{name}_loss"]), 6)
        for key, label in (("rewards/accuracies", "reward_accuracy"), ("rewards/margins", "reward_margin")):
            value = next(v for k, v in found.items() if k.endswith(key))
            out[f"{name}_{label}"] = round(float(value), 6)
    return out


def TokenCounter(pad_token_id: int, max_length: int):  # noqa: N802 - a class factory, TRL imported lazily
    """TRL's preference collator, counting real and padding tokens for the progress bar's tokens/s."""
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    class Counter(DataCollatorForPreference):
        def reset(self) -> None:
            self.real_tokens, self.pad_tokens = 0, 0

        def torch_call(self, examples):
            batch = super().torch_call(examples)
            real = int(batch["attention_mask"].sum())
            self.real_tokens += real
            self.pad_tokens += batch["attention_mask"].numel() - real
            return batch

        @property
        def padding_fraction(self) -> float:
            total = self.real_tokens + self.pad_tokens
            return self.pad_tokens / total if total else 0.0

    counter = Counter(pad_token_id=pad_token_id, max_length=max_length)
    counter.reset()
    return counter


def save(model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
