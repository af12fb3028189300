"""A finished compare run read for routing: each approach's per-example predictions, quality and cost
as matrices (examples x approaches, cheapest approach first), validated row by row."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pydantic import ValidationError

from tunewise.core import registry
from tunewise.core.errors import TunewiseError
from tunewise.core.files import read_json
from tunewise.core.results import PredictionRow
from tunewise.core.schema import Plan, describe_validation_error
from tunewise.eval import metrics

ROUTING_METRIC = {"classification": "accuracy", "qa": "token_f1", "generation": "rouge_l"}


@dataclass
class RunTable:
    """A compare run as matrices: examples x approaches (approaches cheapest first)."""

    run_dir: Path
    plan: Plan
    max_new_tokens: int
    names: list[str]
    rows: dict[str, list[dict]]
    quality: Any                        # numpy (n, A)
    cost_ms: Any                        # numpy (n, A)


def load_run(run_dir: str | Path, only: Sequence[str] | None = None) -> RunTable:
    """Read every finished approach's (or those in `only`) per-example predictions; one clear line for
    what is missing."""
    import numpy as np

    run_dir = Path(run_dir)
    if not (run_dir / "compare.json").is_file():
        raise TunewiseError(f"{run_dir}: not a compare run folder (no compare.json); "
                            f"run `tunewise compare PLAN --out {run_dir}` first")
    stamp = read_json(run_dir / "compare.json")
    plan = Plan.model_validate(stamp["plan"])
    derived = registry.select(lambda spec: "predictions" in spec.needs)    # a router is no route of its own
    names = sorted(p.stem for p in (run_dir / "approaches").glob("*.json") if p.stem not in derived)
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise TunewiseError(f"{run_dir}: '{unknown[0]}' is not a finished approach of this run "
                                f"({', '.join(names) or 'none'})")
        names = [n for n in names if n in only]
    if len(names) < 2:
        raise TunewiseError(f"{run_dir}: routing needs at least two finished approaches, found {len(names)}")
    rows = {name: _prediction_rows(run_dir, name) for name in names}
    ids = [r["id"] for r in rows[names[0]]]
    for name in names:
        if [r["id"] for r in rows[name]] != ids:
            raise TunewiseError(f"{run_dir}/predictions/{name}.jsonl answers other examples than {names[0]}")
    cost = np.array([[r["latency_ms"] for r in rows[n]] for n in names], dtype=float).T
    order = np.argsort(cost.mean(axis=0), kind="stable")
    names = [names[i] for i in order]
    quality = np.array([example_quality(plan.task, rows[n]) for n in names]).T
    return RunTable(run_dir, plan, int(stamp.get("max_new_tokens", 32)), names, rows, quality, cost[:, order])


def _prediction_rows(run_dir: Path, name: str) -> list[dict]:
    """The rows of predictions/NAME.jsonl, each validated as a `PredictionRow` (older runs' rows too)."""
    path = run_dir / "predictions" / f"{name}.jsonl"
    if not path.is_file():
        raise TunewiseError(f"{path} is missing: routing needs the per-example predictions `compare` writes")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(PredictionRow.model_validate_json(line).model_dump(mode="json"))
        except ValidationError as exc:
            raise TunewiseError(f"{path}:{number}: not a prediction row of `compare` "
                                f"({describe_validation_error(exc)})") from None
    if not rows:
        raise TunewiseError(f"{path} is empty: routing needs one prediction row per eval example")
    return rows


def confidence_route(run: RunTable) -> str | None:
    """The cheapest route that recorded a confidence for every example (classification by label
    scoring); None when none did (older runs, API models, generation tasks)."""
    return next((n for n in run.names if all(r["confidence"] is not None for r in run.rows[n])), None)


def example_quality(task: str, rows: Sequence[dict]) -> list[float]:
    """Each example's own score on the task's routing metric (accuracy, token F1 or ROUGE-L), from
    eval/metrics.py: their mean is the approach's reported value of that metric."""
    metric = ROUTING_METRIC[task]
    if task == "classification":
        return [float(metrics.classification_metrics([r["reference"]], [r["prediction"]])[metric]) for r in rows]
    score = metrics.qa_metrics if task == "qa" else metrics.generation_metrics
    return [float(score([r["reference"]], [r["prediction"]])[metric]) for r in rows]
