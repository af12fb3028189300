"""A bootstrap interval for each approach's main metric, from its prediction rows.

Per approach, not paired: enough for the report to say how sure a number is. (A paired comparison of
two approaches on the same examples is a different question; this module is small so it can give way
to one.) Metrics that are means over examples (accuracy, exact match, token F1, ROUGE) resample the
per-example scores; corpus-level ones (macro F1, BLEU, perplexity) are recomputed on each resample.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

from tunewise.eval import metrics

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 0
SMALL_EVAL = 100          # below this many examples the report warns that the order may not hold


def per_example_scores(metric: str, rows: Sequence[dict]) -> list[float] | None:
    """One score per example for metrics that are their mean; None for corpus-level metrics."""
    pairs = [(r["reference"], r["prediction"]) for r in rows]
    if metric == "accuracy":
        return [float(ref == pred) for ref, pred in pairs]
    if metric == "exact_match":
        return [float(metrics.normalize_answer(ref) == metrics.normalize_answer(pred)) for ref, pred in pairs]
    if metric in ("token_f1", "rouge1", "rouge2", "rouge_l"):
        from rouge_score import rouge_scorer

        kind = {"token_f1": "rouge1", "rouge_l": "rougeL"}.get(metric, metric)
        scorer = (rouge_scorer.RougeScorer(["rouge1"], tokenizer=metrics.SquadTokenizer()) if metric == "token_f1"
                  else rouge_scorer.RougeScorer([kind], use_stemmer=True))
        return [scorer.score(ref, pred)[kind].fmeasure for ref, pred in pairs]
    return None


def corpus_statistic(task: str, metric: str, rows: Sequence[dict]) -> Callable[[Sequence[int]], float]:
    """The metric recomputed on the rows at the given indices (macro F1 in numpy: 1000 sklearn calls
    would take seconds)."""
    if metric == "f1_macro":
        return macro_f1_statistic([r["reference"] for r in rows], [r["prediction"] for r in rows])

    def statistic(indices) -> float:
        return metrics.task_metrics(task, [rows[int(i)] for i in indices])[metric]

    return statistic


def macro_f1_statistic(references: Sequence[str], predictions: Sequence[str]) -> Callable[[Sequence[int]], float]:
    """Macro F1 over the labels present among the resampled references, as `classification_metrics`
    computes it (a label with no true, false or missed prediction scores 0)."""
    import numpy as np

    codes = {label: i for i, label in enumerate(sorted(set(references)))}
    ref = np.array([codes[r] for r in references])
    pred = np.array([codes.get(p, -1) for p in predictions])

    def statistic(indices) -> float:
        r, p = ref[np.asarray(indices, dtype=int)], pred[np.asarray(indices, dtype=int)]
        scores = []
        for label in np.unique(r):
            tp = np.sum((r == label) & (p == label))
            wrong = np.sum((r != label) & (p == label)) + np.sum((r == label) & (p != label))
            scores.append(2 * tp / (2 * tp + wrong) if 2 * tp + wrong else 0.0)
        return float(np.mean(scores))

    return statistic


def bootstrap_interval(task: str, metric: str, rows: Sequence[dict]) -> dict[str, Any] | None:
    """{low, high, n, confidence, method} for `metric` over `rows`; None when there is nothing to resample."""
    import numpy as np
    from scipy.stats import bootstrap

    if len(rows) < 2:
        return None
    scores = per_example_scores(metric, rows)
    rng = np.random.default_rng(SEED)
    if scores is not None:
        data, statistic, vectorized = (np.asarray(scores),), lambda x, axis=-1: np.mean(x, axis=axis), True
    else:
        data, statistic, vectorized = (np.arange(len(rows)),), corpus_statistic(task, metric, rows), False
    result = bootstrap(data, statistic, n_resamples=RESAMPLES, confidence_level=CONFIDENCE, method="percentile",
                       vectorized=vectorized, random_state=rng)
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return {"low": round(low, 4), "high": round(high, 4), "n": len(rows), "confidence": CONFIDENCE,
            "method": f"percentile bootstrap over examples, {RESAMPLES} resamples, seed {SEED}"}


def primary_intervals(out: str | Path, results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The interval of the primary metric of every approach whose predictions are in `out/predictions`."""
    metric, found = results["primary_metric"], {}
    for name, record in results["approaches"].items():
        path = Path(out) / "predictions" / f"{name}.jsonl"
        if metric not in record.get("metrics", {}) or not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        interval = bootstrap_interval(results["task"], metric, rows)
        if interval is not None:
            found[name] = interval
    return found
