"""The end of a run: the final save (rank 0), `run.json` with what was measured, and cleanup."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable

from tunewise.core.config import save_config
from tunewise.core.data import file_sha256
from tunewise.core.device import peak_rss_mb
from tunewise.core.files import folder_mb
from tunewise.core.schema import LossPoint, TrainingRun
from tunewise.tuning.config import TuneConfig
from tunewise.tuning.context import CHECKPOINTS, CONFIG_FILE, RUN_FILE, Context, last_checkpoint
from tunewise.tuning.examples import PadCollator
from tunewise.tuning.packing import PackedCollator

Collator = PadCollator | PackedCollator  # both count real tokens and padding


def finish(ctx: Context, trainer, collator: Collator, save: Callable[[Path], None]) -> TrainingRun:
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


def _training_run(ctx: Context, trainer, collator: Collator) -> TrainingRun:
    cfg = ctx.config
    state = trainer.state
    losses = [LossPoint(step=h["step"], loss=h["loss"], epoch=h.get("epoch")) for h in state.log_history if "loss" in h]
    trainable, total = count_parameters(trainer.model)
    total += ctx.frozen_params
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
