"""A verdict with confidence: which approach won, or which cannot be told apart, on this eval set.

Paired over examples: every approach answered the same eval examples, so each resample draws the same
examples for both approaches (scipy.stats.bootstrap, paired=True, seeded). Accuracy differences also
get McNemar's exact test (statsmodels). The winner is the best approach, or, when the best cannot be
told apart from a cheaper one at 95%, the cheapest of those ties.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Sequence

from pydantic import Field

from tunewise.core.errors import ConfigError
from tunewise.core.schema import Record

CONFIDENCE = 0.95
POWER_Z = 1.96 + 0.84          # two-sided 5% test with 80% power
RESAMPLES = 4999
# The per-example score whose mean (or, for macro F1, whose resampled recomputation) is the metric.
VERDICT_METRIC = {"classification": "f1_macro", "qa": "token_f1", "generation": "rouge_l"}


class Difference(Record):
    """One approach against the best: `difference` = approach - best, with its paired bootstrap CI."""

    approach: str
    value: float
    difference: float
    ci_low: float
    ci_high: float
    mcnemar_p: float | None = None
    tie: bool


class Verdict(Record):
    metric: str
    examples: int
    best: str
    winner: str
    ties: list[str] = Field(default_factory=list)
    differences: list[Difference] = Field(default_factory=list)
    min_detectable_difference: float | None = None
    extra_examples_to_settle: int | None = None
    sentence: str


# -- per-example scores -----------------------------------------------------------------------------

def example_scores(task: str, rows: Sequence[dict]) -> list[float]:
    """Per-example score of prediction rows: token F1 (qa), ROUGE-L F (generation), correct (classification)."""
    from rouge_score import rouge_scorer

    from tunewise.eval.metrics import SquadTokenizer

    if task == "classification":
        return [float(r["prediction"] == r["reference"]) for r in rows]
    if task == "qa":
        scorer = rouge_scorer.RougeScorer(["rouge1"], tokenizer=SquadTokenizer())
        return [scorer.score(r["reference"], r["prediction"])["rouge1"].fmeasure for r in rows]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(r["reference"], r["prediction"])["rougeL"].fmeasure for r in rows]


def macro_f1_batch(references, predictions, labels: int):
    """Macro F1 over the reference classes for index arrays of shape (..., n): one value per leading row.

    Vectorised so that thousands of bootstrap resamples take milliseconds; equal to scikit-learn's
    `f1_score(average="macro", labels=reference labels, zero_division=0)` (tested against it).
    """
    import numpy as np

    refs = np.asarray(references)[..., None] == np.arange(labels)
    preds = np.asarray(predictions)[..., None] == np.arange(labels)
    tp = (refs & preds).sum(axis=-2)
    support = refs.sum(axis=-2)
    predicted = preds.sum(axis=-2)
    denominator = support + predicted
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    present = support > 0
    return (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


# -- the tests --------------------------------------------------------------------------------------

def paired_bootstrap(statistic: Callable, n: int, seed: int = 0, resamples: int = RESAMPLES):
    """95% CI of `statistic(indices)` (vectorised over a last axis of example indices), paired resampling.

    BCa where it is defined; the percentile interval when every resample gives the same value (BCa is
    then undefined).
    """
    import numpy as np
    from scipy import stats

    def run(method: str):
        return stats.bootstrap((np.arange(n),), statistic, vectorized=True, paired=True, n_resamples=resamples,
                               confidence_level=CONFIDENCE, method=method, random_state=np.random.default_rng(seed))

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run("BCa")
        if not np.all(np.isfinite([result.confidence_interval.low, result.confidence_interval.high])):
            result = run("percentile")
    low, high = result.confidence_interval
    return float(low), float(high), float(result.standard_error)


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> float:
    """McNemar's exact (binomial) p-value for two classifiers' per-example correctness."""
    from statsmodels.stats.contingency_tables import mcnemar

    a = [bool(x) for x in correct_a]
    b = [bool(x) for x in correct_b]
    table = [[sum(x and y for x, y in zip(a, b)), sum(x and not y for x, y in zip(a, b))],
             [sum(y and not x for x, y in zip(a, b)), sum(not x and not y for x, y in zip(a, b))]]
    return float(mcnemar(table, exact=True).pvalue)


def metric_statistic(task: str, rows: Sequence[dict]) -> Callable:
    """statistic(indices) = the task's verdict metric on those examples, vectorised over a last axis."""
    import numpy as np

    if task == "classification":
        code = {label: i for i, label in enumerate(sorted({r["reference"] for r in rows}))}
        refs = np.array([code[r["reference"]] for r in rows])
        preds = np.array([code.get(r["prediction"], -1) for r in rows])
        return lambda idx, axis=-1: macro_f1_batch(refs[idx], preds[idx], len(code))
    scores = np.array(example_scores(task, rows))
    return lambda idx, axis=-1: scores[idx].mean(axis=-1)


def difference_statistic(task: str, best_rows: Sequence[dict], rows: Sequence[dict]) -> Callable:
    """statistic(indices) = metric(approach) - metric(best) on the same resampled examples."""
    mine, theirs = metric_statistic(task, rows), metric_statistic(task, best_rows)
    return lambda idx, axis=-1: mine(idx) - theirs(idx)


def metric_value(task: str, rows: Sequence[dict]) -> float:
    import numpy as np

    return float(metric_statistic(task, rows)(np.arange(len(rows))))


# -- the verdict ------------------------------------------------------------------------------------

def cost_key(costs: dict) -> tuple[float, float]:
    """Cheaper = lower median latency per answer (paid on every query), then less training time."""
    return (float(costs.get("latency_ms_p50") or 0.0), float(costs.get("train_seconds") or 0.0))


def verdict(task: str, rows: dict[str, list[dict]], costs: dict[str, dict], seed: int = 0) -> Verdict:
    """The winner of per-approach prediction rows (same examples, same order) and why, in plain words."""
    _check_rows(rows)
    metric = VERDICT_METRIC[task]
    values = {name: metric_value(task, r) for name, r in rows.items()}
    best = max(values, key=lambda name: (values[name], [-c for c in cost_key(costs[name])]))
    n = len(rows[best])
    differences, errors = [], []
    for name in rows:
        if name == best:
            continue
        low, high, se = paired_bootstrap(difference_statistic(task, rows[best], rows[name]), n, seed)
        p = None
        if task == "classification":
            p = mcnemar_exact(*[[r["prediction"] == r["reference"] for r in rows[x]] for x in (name, best)])
        differences.append(Difference(approach=name, value=round(values[name], 4),
                                      difference=round(values[name] - values[best], 4), ci_low=round(low, 4),
                                      ci_high=round(high, 4), mcnemar_p=None if p is None else round(p, 4),
                                      tie=high >= 0))
        errors.append((name, se))
    ties = [d.approach for d in differences if d.tie]
    winner = min([best, *ties], key=lambda name: cost_key(costs[name]))
    # The runner-up's comparison is the one this eval set must resolve.
    runner_up = max(differences, key=lambda d: d.value).approach if differences else None
    detectable = POWER_Z * dict(errors)[runner_up] if runner_up else None
    extra = _extra_examples(differences, dict(errors), winner, best, n)
    return Verdict(metric=metric, examples=n, best=best, winner=winner, ties=ties, differences=differences,
                   min_detectable_difference=None if detectable is None else round(detectable, 4),
                   extra_examples_to_settle=extra,
                   sentence=_sentence(metric, values, best, winner, differences, detectable, extra, n))


def _extra_examples(differences: list[Difference], errors: dict[str, float], winner: str, best: str,
                    n: int) -> int | None:
    """Examples beyond n for the closest tie's observed gap to reach significance (SE shrinks as 1/sqrt(n))."""
    tied = [d for d in differences if d.tie and d.difference != 0]
    if not tied:
        return None
    closest = min(tied, key=lambda d: abs(d.difference))
    needed = n * (POWER_Z * errors[closest.approach] / abs(closest.difference)) ** 2
    return max(1, math.ceil(needed - n))


def _sentence(metric: str, values: dict[str, float], best: str, winner: str, differences: list[Difference],
              detectable: float | None, extra: int | None, n: int) -> str:
    if not differences:
        return f"{best} is the only approach; {metric} {values[best]:.3f} on {n} examples."
    ties = [d for d in differences if d.tie]
    clear = f" ({metric} {values[best]:.3f} on {n} examples)"
    if not ties:
        second = max(differences, key=lambda d: d.value)
        return (f"{best} wins{clear}: the next best, {second.approach}, is {-second.difference:.3f} lower "
                f"(95% CI of the difference {second.ci_low:+.3f} to {second.ci_high:+.3f}).")
    names = ", ".join(d.approach for d in ties)
    lead = (f"{winner} wins as the cheapest approach that cannot be told apart from the best, {best}{clear}"
            if winner != best else f"{best} is best{clear} and also the cheapest of its ties")
    gaps = "; ".join(f"{d.approach} {d.difference:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]" for d in ties)
    text = f"{lead}. Tied at 95% with {best}: {names} ({gaps})."
    if detectable is not None:
        text += f" This eval set detects differences of about {detectable:.3f} or more."
    if extra is not None:
        text += f" Tie: about {extra:,} more eval examples would settle it."
    return text


def _check_rows(rows: dict[str, list[dict]]) -> None:
    if not rows:
        raise ConfigError("no approach predictions to judge")
    ids = {name: [r["id"] for r in r_] for name, r_ in rows.items()}
    first = next(iter(ids.values()))
    for name, these in ids.items():
        if these != first:
            raise ConfigError(f"predictions of '{name}' do not answer the same eval examples as the others")


def read_comparison(out: str | Path) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """Per-approach prediction rows and costs of a compare folder (predictions/NAME.jsonl, approaches/NAME.json)."""
    out = Path(out)
    rows, costs = {}, {}
    for record in sorted((out / "approaches").glob("*.json")):
        name = record.stem
        predictions = out / "predictions" / f"{name}.jsonl"
        if not predictions.is_file():
            raise ConfigError(f"{predictions}: missing; the compare folder is incomplete")
        rows[name] = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines() if line]
        costs[name] = json.loads(record.read_text(encoding="utf-8"))["costs"]
    return rows, costs


def verdict_of_folder(out: str | Path, task: str, names: Sequence[str] | None = None, seed: int = 0) -> Verdict:
    """The verdict of a compare folder, over `names` (default: every finished approach)."""
    rows, costs = read_comparison(out)
    if names is not None:
        rows = {n: rows[n] for n in names if n in rows}
    return verdict(task, rows, costs, seed)
