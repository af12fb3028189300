"""What every method shares: the run context, data -> tokenised examples, padding, the Trainer wiring,
progress, checkpoints/resume and the final save with `run.json`.

Each method module (lora, full, prompt, head) runs the same skeleton with these parts:
`ctx = start(config)` -> its own `setup` -> `train(ctx, ...)` -> `finish(ctx, ..., save)` -> `cleanup(ctx)`.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tunewise.core.config import save_config
from tunewise.core.data import Dataset, check_eval_labels, file_sha256, load_dataset
from tunewise.core.device import peak_rss_mb, rss_mb
from tunewise.core.errors import ConfigError, DataError
from tunewise.core.artefacts import check_checkpoint
from tunewise.core.files import claim_output, folder_mb, mark_output
from tunewise.core.models import resolve_model
from tunewise.core.schema import LossPoint, TrainingRun
from tunewise.tuning.config import METHOD_DEFAULTS, TuneConfig
from tunewise.tuning.guards import divergence_guard, warn_unsafe_settings
from tunewise.tuning.examples import EpochLengthSampler, PadCollator, encode_classification, encode_sft

# method name -> module with `run(config, progress) -> TrainingRun`; explicit, never discovered.
METHOD_MODULES: dict[str, str] = {}
CHECKPOINTS = "checkpoints"
RUN_FILE = "run.json"
CONFIG_FILE = "tune.yaml"


def register_method(name: str, module: str) -> None:
    if name in METHOD_MODULES:
        raise ValueError(f"tuning method '{name}' is already registered")
    METHOD_MODULES[name] = module


register_method("lora", "tunewise.tuning.lora")
register_method("qlora", "tunewise.tuning.lora")
register_method("full", "tunewise.tuning.full")
register_method("prompt-tuning", "tunewise.tuning.prompt")
register_method("head", "tunewise.tuning.head")
register_method("dpo", "tunewise.tuning.dpo")


def run_tuning(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    """Train `config.method` and return the `TrainingRun` also written to `OUT/run.json`."""
    if config.method not in METHOD_MODULES:
        raise ConfigError(f"unknown tuning method '{config.method}'; choose one of {', '.join(METHOD_MODULES)}")
    return importlib.import_module(METHOD_MODULES[config.method]).run(config, progress)


@dataclass
class TrainProgress:
    """One progress report: the CLI turns it into a rich bar (loss, tokens/s, ETA)."""

    step: int
    total: int
    loss: float | None = None
    tokens_per_s: float | None = None
    phase: str = "train"


@dataclass
class Context:
    """Everything a method needs, decided before any file is written."""

    config: TuneConfig
    out: Path
    device: Any
    task: str
    train_data: Dataset
    eval_data: Dataset | None
    labels: list[str] | None
    started: float = field(default_factory=time.perf_counter)
    rss_start_mb: float = 0.0
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    train_seconds: float = 0.0
    train_tokens: int = 0
    padding_fraction: float = 0.0

    @property
    def world_size(self) -> int:
        return int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def is_main(self) -> bool:
        return int(os.environ.get("RANK", "0")) == 0


def start(config: TuneConfig, preflight: Callable[[TuneConfig, Any], None] | None = None,
          load: Callable[[Path, str | None], Any] = load_dataset) -> Context:
    """Validate data, device and output before anything is written, then claim the output folder.
    `load` reads a data file (preference pairs for DPO, a `Dataset` otherwise)."""
    from transformers.utils import logging as hf_logging

    from tunewise.core.device import choose_device

    hf_logging.disable_progress_bar()  # the CLI shows its own progress on stderr
    # peft probes a property that transformers 5 deprecates; the warning is theirs, not the user's.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if config.train is None or config.out is None:
        raise ConfigError("a tuning run needs 'train' (a data file) and 'out' (an output folder)")
    if config.report_to == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("--report-to tensorboard needs the tensorboard package: pip install tensorboard")
    params_b = _params_b(config.model)
    config = config.resolved(params_b)
    warn_unsafe_settings(config, METHOD_DEFAULTS[config.method].get("lr"))
    device = choose_device(config.device, config.precision)
    if preflight is not None:
        preflight(config, device)
    train_data = load(config.train, config.format)
    eval_data = load(config.eval, config.format) if config.eval else None
    task = config.task_for(train_data.format)
    labels = None
    if task == "classification":
        if train_data.format != "classification":
            raise DataError(config.train, f"a classifier needs classification records (text, label), "
                                          f"but this file is {train_data.format}")
        labels = train_data.labels
        if len(labels) < 2:
            raise DataError(config.train, "a classifier needs at least two distinct labels")
        if eval_data is not None:
            check_eval_labels(train_data, eval_data)
    out = Path(config.out)
    _claim(config, out)
    return Context(config, out, device, task, train_data, eval_data, labels, rss_start_mb=rss_mb())


def _params_b(model: str) -> float | None:
    resolved = resolve_model(model)
    return resolved.bundled.params_b if resolved.bundled is not None else None


def _claim(config: TuneConfig, out: Path) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return  # the launcher claimed it once, before starting the ranks
    if not config.resume:
        claim_output(out, config.force, tuning_inputs(config))
        mark_output(out, "tune")
        return
    if (out / RUN_FILE).exists():
        raise ConfigError(f"{out}: this run already completed; there is nothing to resume")
    if last_checkpoint(out) is None:
        raise ConfigError(f"{out}: no checkpoint to resume from; start the run again without --resume")
    check_checkpoint(last_checkpoint(out))


def tuning_inputs(config: TuneConfig) -> list:
    """What a tuning run reads: its output may not be, hold or sit inside any of these."""
    return [config.train, config.eval, config.model]


def last_checkpoint(out: Path) -> Path | None:
    """The newest complete Trainer checkpoint under OUT (the Trainer writes `trainer_state.json` last)."""
    folder = Path(out) / CHECKPOINTS
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").exists()] if folder.is_dir() else []
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def encode(ctx: Context, tokenizer) -> tuple[list[dict], list[dict] | None]:
    """Tokenised train and eval examples for the run's task."""
    cfg = ctx.config
    if ctx.task == "classification":
        index = {label: i for i, label in enumerate(ctx.labels)}
        make = lambda data: encode_classification(data, tokenizer, index, cfg.max_seq_len)  # noqa: E731
    else:
        make = lambda data: encode_sft(data, tokenizer, cfg.max_seq_len, cfg.system_prompt)  # noqa: E731
    return make(ctx.train_data), (make(ctx.eval_data) if ctx.eval_data is not None else None)


def training_arguments(ctx: Context, args_class=None, **extra):
    """TrainingArguments (or a subclass such as TRL's DPOConfig) for the run: device/precision from the one
    device choice, length grouping, periodic checkpoints under OUT/checkpoints."""
    from transformers import TrainingArguments

    cfg = ctx.config
    if cfg.report_to == "tensorboard":
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(ctx.out / "logs")
    cuda = ctx.device.is_cuda
    kwargs = dict(
        output_dir=str(ctx.out / CHECKPOINTS), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        warmup_steps=cfg.warmup_ratio,  # a float below 1 is a fraction of all steps
        weight_decay=cfg.weight_decay, lr_scheduler_type="linear",
        logging_steps=cfg.logging_steps, logging_first_step=True, save_strategy="steps",
        save_steps=cfg.save_steps, save_total_limit=2, seed=cfg.seed, data_seed=cfg.seed,
        report_to=cfg.report_to, disable_tqdm=True,
        remove_unused_columns=False, label_names=["labels"], use_cpu=not cuda,
        bf16=cuda and ctx.device.precision == "bf16", fp16=cuda and ctx.device.precision == "fp16",
        ddp_backend="gloo" if not cuda and ctx.world_size > 1 else None, dataloader_num_workers=0,
    )
    kwargs.update(extra)
    return (args_class or TrainingArguments)(**kwargs)


def train(ctx: Context, model, tokenizer, progress: Callable | None = None, args=None):
    """Run the Trainer (resuming from the last checkpoint when asked); returns (trainer, collator)."""
    from transformers import PrinterCallback, set_seed

    set_seed(ctx.config.seed)
    train_set, eval_set = encode(ctx, tokenizer)
    collator = PadCollator(tokenizer.pad_token_id)
    trainer = _trainer_class()(
        model=model, args=args or training_arguments(ctx), train_dataset=train_set, eval_dataset=eval_set,
        data_collator=collator, processing_class=tokenizer,
        callbacks=[divergence_guard(ctx.config.lr, ctx.out / CHECKPOINTS), *([ProgressReporter(collator, progress)] if progress else [])],
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


def ProgressReporter(collator: PadCollator, progress: Callable):  # noqa: N802 - a class factory
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


def finish(ctx: Context, trainer, collator: PadCollator, save: Callable[[Path], None]) -> TrainingRun:
    """Save the final artefacts (rank 0 only), write run.json last, and drop the checkpoints."""
    digest = _check_ranks_agree(ctx, trainer.model)
    run = None
    if ctx.is_main:
        stage = ctx.out / ".final.partial"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
        save(stage)
        for item in stage.iterdir():
            target = ctx.out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
        stage.rmdir()
        if digest is not None:
            from tunewise.core.files import write_json

            write_json(ctx.out / "ranks.json", {"world_size": ctx.world_size, "weights_sha256": digest})
        run = _training_run(ctx, trainer, collator)
        save_config(ctx.config, ctx.out / CONFIG_FILE)
        run.save(ctx.out / RUN_FILE)
        shutil.rmtree(ctx.out / CHECKPOINTS, ignore_errors=True)
    _barrier(ctx)
    return run or TrainingRun.load(ctx.out / RUN_FILE)


def _check_ranks_agree(ctx: Context, model) -> list[str] | None:
    """Under DDP every rank must end with the same weights; gather a digest of each and refuse a split."""
    if ctx.world_size <= 1:
        return None
    import torch.distributed as dist

    mine = weights_digest(model)
    digests: list[str] = [""] * ctx.world_size
    dist.all_gather_object(digests, mine)
    if len(set(digests)) != 1:
        raise RuntimeError(f"ranks ended with different weights ({digests}); the run is not consistent")
    return digests


def _barrier(ctx: Context) -> None:
    if ctx.world_size > 1:
        import torch.distributed as dist

        dist.barrier()


def weights_digest(model) -> str:
    """sha256 over the trainable parameters, in name order."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def _training_run(ctx: Context, trainer, collator: PadCollator) -> TrainingRun:
    cfg = ctx.config
    state = trainer.state
    losses = [LossPoint(step=h["step"], loss=h["loss"], epoch=h.get("epoch")) for h in state.log_history if "loss" in h]
    trainable, total = count_parameters(trainer.model)
    return TrainingRun(
        method=cfg.method, model=cfg.model, output_dir=ctx.out, config=cfg.model_dump(mode="json"),
        data_hash=data_hash(cfg), seed=cfg.seed, versions=package_versions(),
        device=ctx.device.device, precision=ctx.device.precision, steps=state.global_step, losses=losses,
        eval_loss_before=ctx.eval_loss_before, eval_loss_after=ctx.eval_loss_after,
        train_seconds=round(ctx.train_seconds, 3), peak_memory_mb=peak_memory_mb(ctx),
        trainable_params=trainable, total_params=total, storage_mb=folder_mb(ctx.out, skip=(CHECKPOINTS,)),
        labels=ctx.labels, completed=True,
    )


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def data_hash(config: TuneConfig) -> str:
    parts = [file_sha256(config.train)] + ([file_sha256(config.eval)] if config.eval else [])
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def package_versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "trl", "accelerate"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def peak_memory_mb(ctx: Context) -> float:
    """CUDA: peak allocated; CPU: the process's peak RSS above what it held when the run started."""
    if ctx.device.is_cuda:
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(max(peak_rss_mb() - ctx.rss_start_mb, 0.0), 1)


def cleanup(ctx: Context) -> None:
    """Free accelerator memory between runs in one process (search trials, the comparison runner), and
    remove the output of a run that failed before its first checkpoint: there is nothing in it to resume."""
    import gc

    failed_early = not (ctx.out / RUN_FILE).exists() and last_checkpoint(ctx.out) is None
    if ctx.is_main and not ctx.config.resume and failed_early:
        shutil.rmtree(ctx.out, ignore_errors=True)
    gc.collect()
    if ctx.device.is_cuda:
        import torch

        torch.cuda.empty_cache()
