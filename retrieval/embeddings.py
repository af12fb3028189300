"""The sentence-transformers embedder, batched, with the name and dimension an index records."""
from __future__ import annotations

from typing import Sequence

from tunewise.core.defaults import DEFAULT_EMBEDDER
from tunewise.core.models import load_embedder, resolve_model

DEFAULT_BATCH = 64


class Embedder:
    """Normalised embeddings (cosine = dot product) from a bundled or local sentence-transformers model.

    `model` may be passed in (tests, benchmarks) so one loaded model serves several collaborators.
    """

    def __init__(self, ref: str = DEFAULT_EMBEDDER, model=None, batch_size: int = DEFAULT_BATCH):
        self.ref = ref
        self.name = resolve_model(ref).name
        self.model = model if model is not None else load_embedder(ref)
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.max_tokens = int(self.model.max_seq_length)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One `encode` call: sentence-transformers sorts the texts by length into batches, so give it
        many at once to keep padding low."""
        if not texts:
            return []
        return self._encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()

    def _encode(self, texts: list[str]):
        return self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
