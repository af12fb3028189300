"""Retrieval quality, measured: hit rate and mean reciprocal rank at k on a QA set whose records name
the document (`source`) that holds each answer.
"""
from __future__ import annotations

from typing import Sequence

from tunewise.core.data import Dataset
from tunewise.core.errors import DataError
from tunewise.core.schema import Record


class RetrievalQuality(Record):
    k: int
    questions: int
    hit_rate: float
    mrr: float
    misses: list[str]


def hit_rate_and_mrr(ranked: Sequence[Sequence[str]], relevant: Sequence[str], k: int) -> tuple[float, float]:
    """`ranked[i]` are the document ids retrieved for question i, best first; `relevant[i]` the right one."""
    if not ranked:
        return 0.0, 0.0
    hits, reciprocal = 0, 0.0
    for docs, target in zip(ranked, relevant):
        top = list(dict.fromkeys(docs))[:k]  # several chunks of one document count once
        if target in top:
            hits += 1
            reciprocal += 1.0 / (top.index(target) + 1)
    return hits / len(ranked), reciprocal / len(ranked)


def evaluate_retrieval(index, dataset: Dataset, k: int = 4) -> RetrievalQuality:
    """Query `index` with every question of `dataset` and score where its source document ranks."""
    examples = [e for e in dataset.examples if e.source]
    if not examples:
        raise DataError(dataset.path, "no record names its 'source' document; retrieval quality needs it")
    # k counts retrieved chunks, as `ask --k` does; a document's rank is that of its best chunk.
    ranked = [[h.source for h in index.query(e.prompt, k)] for e in examples]
    hit_rate, mrr = hit_rate_and_mrr(ranked, [e.source for e in examples], k)
    misses = [e.id for e, docs in zip(examples, ranked) if e.source not in list(dict.fromkeys(docs))[:k]]
    return RetrievalQuality(k=k, questions=len(examples), hit_rate=round(hit_rate, 4), mrr=round(mrr, 4),
                            misses=misses)
