"""few-shot-opt: plain few-shot with its choices searched instead of fixed.

The search space is what a prompt engineer would try by hand: how many demonstrations, how they are
chosen (most similar, or a seeded random draw), their order (most similar nearest the question, or
first), and the instruction wording. Each trial answers a dev split carved from the training set (the
demonstrations come from the rest), scored by the task's primary metric; optuna's seeded TPE sampler
proposes the trials, and the first trial is plain few-shot itself, so the kept configuration scores at
least plain few-shot on the dev split (DSPy's random search also keeps the unoptimised program as a
candidate). The budget is `trials` (and optionally `max_seconds`); the search time is this approach's
training cost.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from pydantic import Field

from tunewise.core.data import Example
from tunewise.core.defaults import FEW_SHOTS
from tunewise.core.errors import ConfigError
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import Plan, Record
from tunewise.eval import metrics
from tunewise.eval.systems import LLMSystem
from tunewise.eval.workspace import Built, Workspace

NAME = "few-shot-opt"
MIN_TRAIN = 4
SHOT_COUNTS = (1, 2, 4, 8)
STRATEGIES = ("similar", "random")
ORDERS = ("best-last", "best-first")
INSTRUCTION_SUFFIXES = {
    "task": "",
    "answer-only": " Reply with the answer only, without explanation.",
    "follow-examples": " Answer in exactly the style and length of the earlier answers.",
}


class FewShotOptConfig(Record):
    """`tuning: {few-shot-opt: {...}}` in a plan."""

    trials: int = Field(default=8, gt=0)
    max_seconds: float | None = Field(default=None, gt=0)
    dev_share: float = Field(default=0.25, gt=0, lt=1)
    dev_max: int = Field(default=16, gt=1)


@dataclass(frozen=True)
class ShotConfig:
    shots: int
    strategy: str
    order: str
    instruction: str


PLAIN = ShotConfig(FEW_SHOTS, "similar", "best-last", "task")


def search_config(plan: Plan) -> FewShotOptConfig:
    try:
        return plan.tuning.block(NAME)
    except ValueError as exc:
        from tunewise.core.schema import describe_validation_error

        raise ConfigError(f"plan 'tuning' for {NAME}: {describe_validation_error(exc)}") from None


def check_plan(plan: Plan) -> None:
    """Run before anything is written: the search settings validate and train is large enough to split."""
    from tunewise.core.data import load_dataset

    search_config(plan)
    if len(load_dataset(plan.train)) < MIN_TRAIN:
        raise ConfigError(f"{plan.train}: {NAME} needs at least {MIN_TRAIN} training examples to carve a dev "
                          "split from")


def carve_dev(examples: Sequence[Example], cfg: FewShotOptConfig, seed: int) -> tuple[list[Example], list[Example]]:
    """(demonstration pool, dev split), by a seeded shuffle; the dev split never lends demonstrations."""
    if len(examples) < MIN_TRAIN:
        raise ConfigError(f"{NAME} needs at least {MIN_TRAIN} training examples to carve a dev split from")
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    n = min(cfg.dev_max, max(2, round(len(shuffled) * cfg.dev_share)))
    return shuffled[n:], shuffled[:n]


def prompted_system(ws: Workspace, generator, pool: Sequence[Example], config: ShotConfig,
                    selectors: dict[str, Any]) -> LLMSystem:
    """An LLM system prompting with `config` over `pool`; selectors are cached per strategy."""
    from tunewise.retrieval.fewshot import ExampleSelector, fewshot_messages

    if config.strategy not in selectors:
        embedder = ws.embedder() if config.strategy == "similar" else None
        selectors[config.strategy] = ExampleSelector(pool, embedder=embedder, strategy=config.strategy,
                                                     seed=ws.plan.seed)
    selector = selectors[config.strategy]
    system = ws.system + INSTRUCTION_SUFFIXES[config.instruction]
    budget = generator.context_length - ws.max_new_tokens

    def messages(example: Example):
        shots = selector.select(example, config.shots)
        if config.order == "best-first":
            shots = shots[::-1]
        return fewshot_messages(example, shots, system, generator.count_tokens, budget), None

    return LLMSystem(generator, ws.task, ws.labels, ws.max_new_tokens, messages)


def dev_score(ws: Workspace, system: LLMSystem, dev: Sequence[Example]) -> float:
    """The task's primary metric on the dev split (higher is better for every primary metric)."""
    rows = [{"reference": e.response, "prediction": p.text} for e, p in zip(dev, system.predict(dev))]
    return float(metrics.task_metrics(ws.task, rows)[metrics.PRIMARY[ws.task]])


def search(ws: Workspace, generator, pool: Sequence[Example], dev: Sequence[Example],
           cfg: FewShotOptConfig) -> tuple[ShotConfig, list[dict[str, Any]]]:
    """optuna over the space, plain few-shot first; a repeated configuration is not scored twice."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    selectors: dict[str, Any] = {}
    scored: dict[ShotConfig, float] = {}
    trials: list[dict[str, Any]] = []

    def objective(trial) -> float:
        config = ShotConfig(trial.suggest_categorical("shots", SHOT_COUNTS),
                            trial.suggest_categorical("strategy", STRATEGIES),
                            trial.suggest_categorical("order", ORDERS),
                            trial.suggest_categorical("instruction", tuple(INSTRUCTION_SUFFIXES)))
        started = time.perf_counter()
        if config not in scored:
            scored[config] = dev_score(ws, prompted_system(ws, generator, pool, config, selectors), dev)
        trials.append({"number": trial.number, **asdict(config), "dev_score": round(scored[config], 4),
                       "seconds": round(time.perf_counter() - started, 2)})
        ws.progress(f"{NAME}: search", len(trials), cfg.trials)
        return scored[config]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=ws.plan.seed))
    study.enqueue_trial(asdict(PLAIN))
    study.optimize(objective, n_trials=cfg.trials, timeout=cfg.max_seconds)
    best = max(scored, key=lambda c: (scored[c], c == PLAIN))   # a tie keeps plain few-shot
    return best, trials


def build(ws: Workspace, model=None) -> Built:
    """Search on the dev split, then prompt with the best configuration over the whole training set."""
    cfg = search_config(ws.plan)
    generator = ws.generator(model)
    pool, dev = carve_dev(ws.train.examples, cfg, ws.plan.seed)
    started = time.perf_counter()
    best, trials = search(ws, generator, pool, dev, cfg)
    seconds = time.perf_counter() - started
    built = Built(prompted_system(ws, generator, ws.train.examples, best, {}))
    built.train_seconds = seconds
    plain = next(t["dev_score"] for t in trials if t["number"] == 0)
    built.extra["search"] = {
        "metric": metrics.PRIMARY[ws.task], "dev_examples": len(dev), "pool_examples": len(pool),
        "trials": trials, "best": asdict(best), "best_dev_score": round(max(t["dev_score"] for t in trials), 4),
        "plain_few_shot_dev_score": plain, "search_seconds": round(seconds, 2),
        "configurations_scored": len({(t["shots"], t["strategy"], t["order"], t["instruction"]) for t in trials}),
    }
    built.notes.append(f"train_seconds is the demonstration search: {len(trials)} trials on a dev split of "
                       f"{len(dev)} training examples; the kept configuration then draws on all of train")
    return built


SPEC = ApproachSpec(
    name=NAME, kind="in-context", needs=frozenset({"labels"}), prior=1.5, api=True, prompt_extra="shots",
    config=FewShotOptConfig, check=check_plan, min_labels=20,
    search_queries=FewShotOptConfig().trials * FewShotOptConfig().dev_max,
    summary="few-shot-opt searches the number, choice, order and instruction of few-shot demonstrations "
            "on a dev split carved from the training set.",
)
