"""From answers and files to a recommendation, and from a recommendation to a plan `compare` runs as is."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tunewise.core.defaults import DEFAULT_GENERATOR
from tunewise.advisor.assess import profile_corpus, profile_dataset
from tunewise.advisor.calibrate import ledger_calibrations
from tunewise.advisor.estimate import Calibration, calibrate
from tunewise.advisor.measured import lean_on_ledger
from tunewise.advisor.records import Answers, Recommendation
from tunewise.advisor.rules import PLAN_TASK, recommend, workload
from tunewise.core import registry
from tunewise.core.errors import ConfigError
from tunewise.core.files import atomic_write_text, claim_output
from tunewise.core.reading import ReadPolicy
from tunewise.core.schema import ApiModel, ModelRef, Plan, PlanTuning, Prices, TrainingRun

MAX_COMPARED = 4      # besides the baseline: each approach in a plan costs a run of `compare`


@dataclass
class AdviceRequest:
    answers: Answers
    data: Path | None = None
    eval: Path | None = None
    corpus: Path | None = None
    corpus_next: Path | None = None   # a later snapshot of the corpus, for compare's knowledge-drift check
    eval_next: Path | None = None     # questions about the facts that changed in it
    model: ModelRef = DEFAULT_GENERATOR
    calibrate: tuple[Path, ...] = ()
    exact_tokens: bool = False
    reading: ReadPolicy = ReadPolicy()   # how the corpus is read (`tunewise --follow-links`)
    notes: list[str] = field(default_factory=list)


def advise(request: AdviceRequest) -> Recommendation:
    """Profile the files (fast token estimate unless `exact_tokens`), calibrate, and recommend."""
    model = request.model if isinstance(request.model, str) else None
    fast = not request.exact_tokens
    data = profile_dataset(request.data, request.eval, model, fast) if request.data else None
    corpus = profile_corpus(request.corpus, fast=fast, reading=request.reading) if request.corpus else None
    calibrations = tuple(load_calibration(path) for path in request.calibrate)
    # Similar measured runs in the ledger calibrate every method a run.json given here does not.
    calibrations += ledger_calibrations(model, request.answers.gpu_memory_gb > 0, tuple(c.method for c in calibrations))
    return lean_on_ledger(recommend(request.answers, data, corpus, model, calibrations), model)


def load_calibration(path: Path) -> Calibration:
    return calibrate(TrainingRun.load(path), str(path))


def plan_approaches(rec: Recommendation, has_corpus: bool, is_api: bool,
                    has_preferences: bool = False) -> tuple[list[str], list[str]]:
    """The feasible ranked approaches `compare` can run here, the zero-shot baseline first."""
    chosen, notes = [registry.baseline()], []
    for ranked in rec.ranking:
        name = ranked.approach
        spec = registry.spec(name)
        if not ranked.feasible or name in chosen:
            continue
        if spec.retrieves and not has_corpus:
            notes.append(f"{name} left out of the plan: no --corpus was given to index.")
        elif "predictions" in spec.needs:
            notes.append(f"{name} left out of the plan: it routes among a comparison's approaches; add it "
                         "last to the plan's approaches to score it beside them.")
        elif "preferences" in spec.needs and not has_preferences:
            notes.append(f"{name} left out of the plan: add `preferences: FILE` (prompt, chosen, rejected pairs) "
                         f"and `{name}` to its approaches to compare it.")
        elif spec.tuned and is_api:
            notes.append(f"{name} left out of the plan: it would run at the provider, not in compare.")
        elif len(chosen) <= MAX_COMPARED or (spec.has("classifier") and rec.profile.answers.task == "classification"):
            chosen.append(name)
    return chosen, notes


def build_plan(rec: Recommendation, request: AdviceRequest, plan_path: Path) -> Plan:
    """A `Plan` whose paths are relative to the plan file's folder."""
    if request.data is None or request.eval is None:
        raise ConfigError("--plan-out needs --data (training set) and --eval (evaluation set)")
    if (request.corpus_next is None) != (request.eval_next is None) or (request.corpus_next and not request.corpus):
        raise ConfigError("--corpus-next and --eval-next go together, with --corpus (the drift check needs all three)")
    answers = rec.profile.answers
    is_api = isinstance(request.model, ApiModel)
    approaches, notes = plan_approaches(rec, request.corpus is not None, is_api)
    top = next(r for r in rec.ranking if r.approach == rec.recommendation)
    work = workload(answers, rec.profile.data, rec.profile.corpus)
    base = plan_path.resolve().parent
    relative = lambda p: Path(os.path.relpath(Path(p).resolve(), base)) if p else None  # noqa: E731
    return Plan(
        task=PLAN_TASK[answers.task], train=relative(request.data), eval=relative(request.eval),
        corpus=relative(request.corpus), corpus_next=relative(request.corpus_next),
        eval_next=relative(request.eval_next), approaches=approaches,
        # compare runs an API model's in-context approaches beside the local model's, as `api:<name>`.
        **({"api_model": request.model} if is_api else {"model": request.model}),
        tuning=PlanTuning(max_seq_len=work.seq_len), recommendation=rec.recommendation,
        reasons=top.reasons + notes,
        # The questionnaire asks one price per million tokens (as its estimates use it): prompt and output alike.
        prices=Prices(gpu_hour_usd=answers.gpu_hour_usd, input_token_usd_per_1m=answers.token_usd_per_1m,
                      output_token_usd_per_1m=answers.token_usd_per_1m),
    )


def write_plan(plan: Plan, path: Path, force: bool = False) -> Path:
    """Write the plan as YAML, refusing to overwrite without `force`."""
    claim_output(path, force, folder=False)
    data = plan.model_dump(mode="json", exclude_none=True)
    header = (f"# Written by `tunewise advise`; run it with: tunewise compare {path.name} --out DIR\n"
              "# Paths are relative to this file's folder. Edit `approaches` to compare fewer or more.\n")
    return atomic_write_text(path, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
