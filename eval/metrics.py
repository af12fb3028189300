"""Quality metrics, computed by the reference libraries (scikit-learn, rouge-score, sacrebleu).

Pure functions over lists of strings and numbers; nothing here loads a model. Metrics that do not fit a
task are left out, never reported as zero.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

# Higher is better for every metric except these.
LOWER_IS_BETTER = frozenset({"perplexity"})
# The metric that decides the winner for each task.
PRIMARY = {"classification": "f1_macro", "generation": "rouge_l", "qa": "token_f1"}
METRIC_KEYS = (
    "accuracy", "f1_macro", "rouge1", "rouge2", "rouge_l", "bleu", "exact_match", "token_f1",
    "perplexity", "hit_rate", "mrr",
)

_ARTICLES = frozenset({"a", "an", "the"})


class SquadTokenizer:
    """SQuAD answer normalisation as a rouge-score tokenizer: lowercase, alphanumeric runs, no articles.

    ROUGE-1 F-measure over these tokens is exactly SQuAD's token F1 (multiset overlap), so token F1 is
    computed by rouge-score rather than re-implemented.
    """

    def tokenize(self, text: str) -> list[str]:
        return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in _ARTICLES]


def normalize_answer(text: str) -> str:
    return " ".join(SquadTokenizer().tokenize(text))


def classification_metrics(references: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    _check_lengths(references, predictions)
    labels = sorted(set(references))
    return {
        "accuracy": float(accuracy_score(references, predictions)),
        # Macro over the reference labels: a label the model invents lowers precision only through
        # the true labels it steals, and every true class counts equally however rare.
        "f1_macro": float(f1_score(references, predictions, labels=labels, average="macro", zero_division=0)),
    }


def per_class_f1(references: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import f1_score

    _check_lengths(references, predictions)
    labels = sorted(set(references))
    scores = f1_score(references, predictions, labels=labels, average=None, zero_division=0)
    return {label: float(score) for label, score in zip(labels, scores)}


def generation_metrics(references: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-measure (0-1, stemmed) and corpus BLEU (sacrebleu's 0-100 scale)."""
    import sacrebleu
    from rouge_score import rouge_scorer

    _check_lengths(references, predictions)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for reference, prediction in zip(references, predictions):
        for key, score in scorer.score(reference, prediction).items():
            totals[key] += score.fmeasure
    n = len(references)
    bleu = sacrebleu.corpus_bleu(list(predictions), [list(references)]).score
    return {"rouge1": totals["rouge1"] / n, "rouge2": totals["rouge2"] / n,
            "rouge_l": totals["rougeL"] / n, "bleu": float(bleu)}


def qa_metrics(references: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    """SQuAD-style exact match and token F1, both 0-1, after answer normalisation."""
    from rouge_score import rouge_scorer
    from sklearn.metrics import accuracy_score

    _check_lengths(references, predictions)
    exact = accuracy_score([normalize_answer(r) for r in references], [normalize_answer(p) for p in predictions])
    scorer = rouge_scorer.RougeScorer(["rouge1"], tokenizer=SquadTokenizer())
    f1 = [scorer.score(r, p)["rouge1"].fmeasure for r, p in zip(references, predictions)]
    return {"exact_match": float(exact), "token_f1": sum(f1) / len(f1)}


def perplexity(logprobs: Iterable[tuple[float, int]]) -> float | None:
    """Corpus perplexity of the references: exp of minus the summed log-probability per token."""
    pairs = [(lp, n) for lp, n in logprobs if n]
    tokens = sum(n for _, n in pairs)
    if not tokens:
        return None
    return math.exp(-sum(lp for lp, _ in pairs) / tokens)


def retrieval_metrics(sources: Sequence[str], retrieved: Sequence[Sequence[str]]) -> dict[str, float]:
    """Hit rate (the answer's document among those retrieved) and MRR (1 / its rank), as `index eval`
    computes them."""
    from tunewise.retrieval.quality import hit_rate_and_mrr

    _check_lengths(sources, retrieved)
    hit_rate, mrr = hit_rate_and_mrr(retrieved, sources, k=max(len(r) for r in retrieved) or 1)
    return {"hit_rate": hit_rate, "mrr": mrr}


def task_metrics(task: str, rows: Sequence[dict]) -> dict[str, float]:
    """Every metric that fits `task`, from prediction rows as written to `predictions/NAME.jsonl`."""
    references = [r["reference"] for r in rows]
    predictions = [r["prediction"] for r in rows]
    if task == "classification":
        metrics = classification_metrics(references, predictions)
    elif task == "qa":
        metrics = qa_metrics(references, predictions)
    else:
        metrics = generation_metrics(references, predictions)
    ppl = perplexity((r["ref_logprob"], r["ref_tokens"]) for r in rows if r.get("ref_tokens"))
    if ppl is not None and all(r.get("ref_tokens") for r in rows):
        metrics["perplexity"] = ppl
    scored = [r for r in rows if r.get("source") and r.get("retrieved") is not None]
    if scored and len(scored) == len([r for r in rows if r.get("source")]):
        metrics.update(retrieval_metrics([r["source"] for r in scored], [r["retrieved"] for r in scored]))
    return metrics


def is_better(metric: str, a: float, b: float) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def _check_lengths(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b) or not a:
        raise ValueError(f"need equal, non-empty lists (got {len(a)} and {len(b)})")
