"""What a router knows about a request before answering it: the question's embedding, how well the run's
index matches it (top score, gap to the second hit) and its length, with the versions they depend on.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from tunewise.core.errors import TunewiseError
from tunewise.core.schema import Record

SCALAR_FEATURES = ("retrieval_top_score", "retrieval_score_gap", "log_words")


class FeatureVersions(Record):
    """What the features were computed with; serving with anything else would route on other numbers."""

    embedder: str
    embedding_dim: int
    index_fingerprint: str | None = None    # None: the run had no index, so no retrieval scores


class FeatureExtractor:
    """One feature vector per question: the embedding, then the retrieval scores (when there is an index),
    then the log word count. The embedder and index are passed in so tests and serving share them."""

    def __init__(self, embedder, index=None):
        self.embedder = embedder
        self.index = index
        self._fingerprint = index.fingerprint() if index is not None else None

    @property
    def versions(self) -> FeatureVersions:
        return FeatureVersions(embedder=self.embedder.name, embedding_dim=self.embedder.dim,
                               index_fingerprint=self._fingerprint)

    @property
    def names(self) -> list[str]:
        scalars = SCALAR_FEATURES if self.index is not None else SCALAR_FEATURES[2:]
        return [f"embedding[{self.embedder.dim}]", *scalars]

    def features(self, question: str) -> tuple[list[float], float]:
        """(feature vector, milliseconds it took): the time is part of what routing costs per answer."""
        started = time.perf_counter()
        vector = self.embedder.embed_query(question)
        if self.index is not None:
            hits = self.index.query(question, 2, embedding=vector)
            top = hits[0].score if hits else 0.0
            vector = [*vector, top, top - hits[1].score if len(hits) > 1 else top]
        vector = [*vector, math.log1p(len(question.split()))]
        return vector, (time.perf_counter() - started) * 1000

    def check(self, trained: FeatureVersions, router_path: str | Path) -> None:
        """Refuse to route with features other than those the router was trained on."""
        served = self.versions
        if (served.embedder, served.embedding_dim) != (trained.embedder, trained.embedding_dim):
            raise TunewiseError(
                f"{router_path} was trained with embedder '{trained.embedder}' ({trained.embedding_dim} dimensions) "
                f"but serving uses '{served.embedder}' ({served.embedding_dim}); retrain it with `tunewise route train`")
        if served.index_fingerprint != trained.index_fingerprint:
            raise TunewiseError(
                f"{router_path} was trained on index {trained.index_fingerprint} but the index served is "
                f"{served.index_fingerprint} (changed since); retrain it with `tunewise route train`")


def run_extractor(run_dir: Path, embedder_ref: str, embedder=None) -> FeatureExtractor:
    """The extractor of a compare run: its plan's embedder (or the one given) and its index/ when built."""
    from tunewise.retrieval.embeddings import Embedder
    from tunewise.retrieval.index import SQLITE_FILE, ChromaIndex, open_client

    embedder = embedder if embedder is not None else Embedder(embedder_ref)
    folder = run_dir / "index"
    index = None
    if (folder / SQLITE_FILE).exists():
        index = ChromaIndex(embedder, open_client(folder), where=str(folder))
    return FeatureExtractor(embedder, index)
