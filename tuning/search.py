"""`--auto`: a small, budgeted optuna search over learning rate (and LoRA rank), then the real run.

Each trial trains `auto_steps` steps on 80% of the training data and is scored by its eval loss on the
other 20%; the best values then train on all of it. The trials are saved as OUT/search.json.
"""
from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from tunewise.core.data import Example, load_dataset
from tunewise.core.errors import ConfigError
from tunewise.core.files import claim_output, read_json, write_json
from tunewise.core.schema import TrainingRun
from tunewise.tuning.config import TuneConfig

SEARCH_FILE = "search.json"
LORA_RANKS = (4, 8, 16, 32)
LR_SPREAD = 10.0  # search from default/spread to default*spread, on a log scale


def search_and_train(config: TuneConfig, progress: Callable | None = None) -> TrainingRun:
    from tunewise.tuning.context import tuning_inputs
    from tunewise.tuning.registry import run_tuning

    if config.train is None or config.out is None:
        raise ConfigError("a tuning run needs 'train' (a data file) and 'out' (an output folder)")
    if config.resume:
        raise ConfigError("--auto cannot resume; resume the final run without --auto")
    out = Path(config.out)
    claim_output(out, config.force, tuning_inputs(config))
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.search-", dir=out.parent if out.parent.exists() else None))
    try:
        trials = run_search(config, work, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = min((t for t in trials if t["eval_loss"] is not None), key=lambda t: t["eval_loss"])
    final = config.model_copy(update={"auto": False, "force": True, "lr": best["lr"],
                                      **({"lora_r": best["lora_r"]} if "lora_r" in best else {})})
    run = run_tuning(final, progress)
    write_json(out / SEARCH_FILE, {"trials": trials, "best": best, "steps_per_trial": config.auto_steps})
    return run


def run_search(config: TuneConfig, work: Path, progress: Callable | None = None) -> list[dict]:
    """Run `auto_trials` optuna trials in `work`; returns one record per trial."""
    import optuna

    from tunewise.tuning.registry import run_tuning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train_file, eval_file = split_data(config, work)
    default_lr = config.resolved().lr
    tune_rank = config.method in ("lora", "qlora")
    records: list[dict] = []

    def objective(trial) -> float:
        params = {"lr": trial.suggest_float("lr", default_lr / LR_SPREAD, default_lr * LR_SPREAD, log=True)}
        if tune_rank:
            params["lora_r"] = trial.suggest_categorical("lora_r", LORA_RANKS)
            params["lora_alpha"] = 2 * params["lora_r"]
        trial_config = config.model_copy(update={
            **params, "auto": False, "force": True, "train": train_file, "eval": eval_file,
            "out": work / f"trial-{trial.number}", "format": None, "max_steps": config.auto_steps, "report_to": "none",
        })
        run = run_tuning(trial_config, progress)
        shutil.rmtree(trial_config.out, ignore_errors=True)
        records.append({"number": trial.number, **params, "eval_loss": run.eval_loss_after})
        return run.eval_loss_after

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.optimize(objective, n_trials=config.auto_trials)
    return records


def split_data(config: TuneConfig, work: Path) -> tuple[Path, Path]:
    """80/20 split of the training examples (seeded), written as chat or classification JSONL."""
    data = load_dataset(config.train, config.format)
    if len(data) < 5:
        raise ConfigError(f"{config.train}: --auto needs at least 5 training examples to split, found {len(data)}")
    order = list(data.examples)
    random.Random(config.seed).shuffle(order)
    cut = max(1, len(order) // 5)
    files = []
    for name, part in (("train", order[cut:]), ("eval", order[:cut])):
        path = work / f"{name}.jsonl"
        path.write_text("".join(json.dumps(_record(e)) + "\n" for e in part), encoding="utf-8")
        files.append(path)
    return files[0], files[1]


def _record(example: Example) -> dict:
    """The example as the trainer sees it: a label, or the prompt messages plus the answer."""
    if example.label is not None:
        return {"id": example.id, "text": example.prompt, "label": example.label}
    messages = example.prompt_messages() + [{"role": "assistant", "content": example.response}]
    return {"id": example.id, "messages": messages}


def load_trials(out: str | Path) -> list[dict]:
    """The trials of an `--auto` run (empty for a plain run)."""
    path = Path(out) / SEARCH_FILE
    return read_json(path)["trials"] if path.is_file() else []
