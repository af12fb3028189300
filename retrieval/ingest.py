"""Load a corpus and split it into chunks measured in the embedder's own tokens.

A chunk's id is derived from its document's id, the document's content hash and its position, so the
same text always lands on the same id: re-running an interrupted build overwrites, never duplicates.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tunewise.core.defaults import CHUNK_OVERLAP, CHUNK_TOKENS
from tunewise.core.data import Document, load_corpus, text_sha256
from tunewise.core.errors import ConfigError
from tunewise.core.reading import ReadPolicy

SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    source: str        # the document id
    chunk: int         # position within the document
    doc_hash: str
    n_chunks: int

    def metadata(self) -> dict[str, str | int]:
        return {"source": self.source, "chunk": self.chunk, "doc_hash": self.doc_hash, "n_chunks": self.n_chunks}


def document_hash(document: Document) -> str:
    return text_sha256(document.text)


def chunk_id(source: str, doc_hash: str, position: int) -> str:
    # Chroma ids are free text, but document ids may be long paths: a short digest keeps ids compact.
    key = text_sha256(source)[:16]
    return f"{key}-{doc_hash[:16]}-{position}"


def check_chunk_size(chunk_tokens: int, overlap: int, max_tokens: int | None) -> None:
    """Refuse a chunk size the embedder would silently truncate, or an overlap that never advances."""
    if chunk_tokens < 8:
        raise ConfigError(f"chunk size {chunk_tokens} is too small; use at least 8 tokens")
    if max_tokens is not None and chunk_tokens > max_tokens - SPECIAL_TOKENS:
        raise ConfigError(
            f"chunk size {chunk_tokens} exceeds what the embedder reads ({max_tokens - SPECIAL_TOKENS} tokens "
            "plus 2 special tokens); lower --chunk-tokens"
        )
    if not 0 <= overlap < chunk_tokens:
        raise ConfigError(f"chunk overlap {overlap} must be at least 0 and smaller than the chunk size {chunk_tokens}")


class Splitter:
    """LangChain's recursive splitter with lengths counted by the embedder's tokenizer."""

    def __init__(self, tokenizer, chunk_tokens: int = CHUNK_TOKENS,
                 overlap: int = CHUNK_OVERLAP, max_tokens: int | None = None):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        check_chunk_size(chunk_tokens, overlap, max_tokens)
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self._splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            tokenizer, chunk_size=chunk_tokens, chunk_overlap=overlap,
        )

    def split(self, document: Document) -> list[Chunk]:
        digest = document_hash(document)
        pieces = [p for p in self._splitter.split_text(document.text) if p.strip()]
        return [
            Chunk(chunk_id(document.id, digest, i), piece, document.id, i, digest, len(pieces))
            for i, piece in enumerate(pieces)
        ]

    def split_all(self, documents: Iterable[Document],
                  on_document: Callable[[Document], None] | None = None) -> list[Chunk]:
        chunks: list[Chunk] = []
        for document in documents:
            chunks.extend(self.split(document))
            if on_document is not None:
                on_document(document)
        return chunks


def load_documents(folder: str | Path, policy: ReadPolicy = ReadPolicy()) -> list[Document]:
    """The corpus under `folder` (see `core.data.load_corpus`); empty documents carry nothing to index."""
    return [doc for doc in load_corpus(folder, policy) if doc.text.strip()]
