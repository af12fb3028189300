"""`tunewise tune` and `tunewise export`: parse, call one tuning function, render."""
from __future__ import annotations

from pathlib import Path

import click

from tunewise.core.defaults import DEFAULT_GENERATOR
from tunewise.cli.options import force_option, json_option, writing
from tunewise.cli.render import console, print_json, progress, table

METHOD_CHOICES = ("lora", "qlora", "full", "prompt-tuning", "head", "dpo")


def _options(func):
    """The tuning flags; each maps to the `TuneConfig` key of the same name (dashes -> underscores)."""
    specs = [
        ("--seed", int, "Random seed (data order, adapter init)."),
        ("--report-to", click.Choice(["none", "tensorboard"]), "Also log to TensorBoard under OUT/logs."),
        ("--launcher", click.Choice(["torchrun", "accelerate"]), "Engine that starts --nproc processes."),
        ("--nproc", int, "Processes to train with (DDP; gloo on CPU, NCCL on GPUs)."),
        ("--precision", click.Choice(["auto", "bf16", "fp16", "fp32"]),
         "Training precision (auto: bf16 on a GPU or a CPU with native bf16, else fp32)."),
        ("--device", click.Choice(["auto", "cuda", "cpu"]), "Where to train (auto: CUDA when available)."),
        ("--save-steps", int, "Write a checkpoint every N optimizer steps."),
        ("--dpo-loss", click.Choice(["sigmoid", "ipo", "hinge", "robust", "sigmoid_norm", "apo_zero", "apo_down"]),
         "DPO: TRL's pair loss (sigmoid is DPO)."),
        ("--dpo-beta", float, "DPO: how far the tuned model may move from the base (higher: less)."),
        ("--num-virtual-tokens", int, "Prompt tuning: soft-prompt length."),
        ("--train-top-layers", int, "Full: train only the top N layers (selective freezing)."),
        ("--target-modules", str, "LoRA: comma-separated module names, or all-linear."),
        ("--lora-alpha", int, "LoRA scaling alpha."),
        ("--lora-r", int, "LoRA rank."),
        ("--max-seq-len", int, "Truncate examples to this many tokens."),
        ("--grad-accum", int, "Gradient accumulation steps."),
        ("--batch-size", int, "Examples per device per step."),
        ("--lr", float, "Learning rate (default per method)."),
        ("--max-steps", int, "Stop after N optimizer steps (overrides --epochs)."),
        ("--epochs", float, "Passes over the training data (default per method)."),
        ("--task", click.Choice(["auto", "sft", "classification"]), "sft: write the response; classification: "
                                                                       "a label classifier (auto: head -> classifier)."),
        ("--eval", click.Path(path_type=Path), "Evaluation data: eval loss before and after training."),
        ("--train", click.Path(path_type=Path), "Training data (.jsonl, .json or .csv)."),
        ("--model", str, "Bundled model name or local model folder (default " + DEFAULT_GENERATOR + ")."),
        ("--out", click.Path(path_type=Path), "Output folder (adapter or model, run.json, tune.yaml)."),
        ("--method", click.Choice(METHOD_CHOICES), "Tuning method (default lora)."),
    ]
    for name, kind, text in specs:
        func = click.option(name, type=kind, default=None, help=text)(func)
    return func


@click.command()
@_options
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="YAML config (see tuning/configs/); flags given here override it.")
@click.option("--resume", is_flag=True, default=None, help="Continue an interrupted run from its last checkpoint.")
@click.option("--auto", is_flag=True, default=None, help="Search lr (and LoRA rank) with optuna on a split of --train first, then train.")
@click.option("--auto-trials", type=int, default=None, help="Trials for --auto (each a short run).")
@click.argument("overrides", nargs=-1)
@force_option
@json_option
def tune(config_path, overrides, force, as_json, **flags) -> None:
    """Fine-tune a model: LoRA, QLoRA (CUDA), full, prompt tuning, a classifier head, or DPO on
    preference pairs (prompt, chosen, rejected).

    Extra KEY=VALUE arguments set any other config key, e.g. lora_dropout=0.1 warmup_ratio=0.1.
    """
    from tunewise.tuning import tune as run
    from tunewise.tuning.config import build_config

    for key in ("resume", "auto"):
        flags[key] = flags[key] or None  # an absent flag must not override the YAML
    if flags.get("target_modules"):
        names = [n.strip() for n in flags["target_modules"].split(",") if n.strip()]
        flags["target_modules"] = names[0] if names == ["all-linear"] else names
    config = build_config(config_path, {**flags, "force": force or None}, overrides)
    with progress() as bar:
        task = bar.add_task(f"tune {config.method}", total=None, info="loading")

        def report(update) -> None:
            info = f"loss {update.loss:.3f}" if update.loss is not None else ""
            if update.tokens_per_s:
                info += f"  {update.tokens_per_s:,.0f} tok/s"
            bar.update(task, completed=update.step, total=update.total or None, info=info)

        with writing(config.out, "tune"):
            result = run(config, report)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    _render(result)


def _render(run) -> None:
    rows = [
        ("method", run.method), ("model", run.model), ("steps", run.steps),
        ("eval loss before -> after", f"{_loss(run.eval_loss_before)} -> {_loss(run.eval_loss_after)}"),
        ("trainable / total params", f"{run.trainable_params:,} / {run.total_params:,}"),
        ("train time (s)", run.train_seconds), ("peak memory (MB)", run.peak_memory_mb),
        ("output size (MB)", run.storage_mb), ("device", f"{run.device} {run.precision}"),
    ]
    from tunewise.tuning.search import load_trials

    trials = load_trials(run.output_dir)
    if trials:
        console.print(table("Search trials", ["trial", "lr", "lora_r", "epochs", "eval loss"],
                            [(t["number"], t["lr"], t.get("lora_r"), t.get("epochs"), t["eval_loss"]) for t in trials]))
    rows += _preference_rows(run.output_dir)
    console.print(table(f"Trained: {run.output_dir}", ["", "value"], rows))


def _preference_rows(folder) -> list[tuple[str, str]]:
    """DPO runs: the implicit-reward accuracy and DPO loss before -> after, from preference.json."""
    path = Path(folder) / "preference.json"
    if not path.is_file():
        return []
    from tunewise.core.files import read_json

    scores = read_json(path)
    before, after = scores["before"], scores["after"]
    rows = []
    for split in ("train", "eval"):
        if f"{split}_loss" in after:
            n = scores["pairs"][split]
            rows.append((f"{split} pairs ({n}): reward accuracy", f"{before[f'{split}_reward_accuracy']:.3f} -> "
                                                                  f"{after[f'{split}_reward_accuracy']:.3f}"))
            rows.append((f"{split} pairs: DPO loss", f"{_loss(before[f'{split}_loss'])} -> {_loss(after[f'{split}_loss'])}"))
    return rows


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the merged model.")
@click.option("--merge", is_flag=True, help="Merge the LoRA adapter into its base model (required).")
@force_option
def export(source: Path, out: Path, merge: bool, force: bool) -> None:
    """Write a tuned LoRA adapter merged into its base model, as a plain safetensors model."""
    if not merge:
        raise click.UsageError("export writes a merged model; pass --merge")
    from tunewise.tuning.export import merge_adapter

    with progress(transient=True) as bar:
        bar.add_task("merging", total=None, info=str(source))
        with writing(out, "export"):
            folder = merge_adapter(source, out, force)
    console.print(f"Merged model written to {folder}")
