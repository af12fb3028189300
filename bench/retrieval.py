"""Retrieval benchmarks, each against a baseline measured in the same run.

1. Indexing throughput (chunks/s): `ChromaIndex.build` vs `langchain_chroma.Chroma.from_documents`,
   same chunks, same loaded MiniLM model, both into embedded Chroma.
2. Incremental update: 1% of documents changed, time as a share of the full build just measured.
3. Query latency (embedding + search, k=4) over 10,000 chunks: random-but-fixed unit vectors stored
   directly, real MiniLM embedding of each query; median and p95 of 200 queries.
Run: `.venv/bin/python -m bench.retrieval` (about a minute on 2 CPU cores).
"""
from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from tunewise.core.data import Document

EXAMPLES = Path(__file__).parents[1] / "examples" / "docs"
N_DOCS, N_QUERY_CHUNKS, N_QUERIES, K = 100, 10_000, 200, 4


def corpus(n: int = N_DOCS) -> list[Document]:
    """`n` documents cut from the built-in example's paragraphs, so text is realistic and sizes vary."""
    paragraphs = [p.strip() for f in sorted(EXAMPLES.glob("*.md")) for p in f.read_text().split("\n\n") if p.strip()]
    docs = []
    for i in range(n):
        body = "\n\n".join(paragraphs[(i * 3 + j) % len(paragraphs)] for j in range(4))
        docs.append(Document(f"doc{i:03d}.md", f"Document {i}.\n\n{body}", Path(f"doc{i:03d}.md")))
    return docs


def bench_build_and_update(embedder, root: Path) -> dict:
    from tunewise.retrieval.index import open_index
    from tunewise.retrieval.ingest import Splitter

    docs = corpus()
    chunks = Splitter(embedder.tokenizer, max_tokens=embedder.max_tokens).split_all(docs)
    baseline_s = _langchain_build(embedder, chunks, root / "langchain")
    index = open_index(path=root / "ours", embedder=embedder, create=True)
    started = time.perf_counter()
    built = index.build(docs)
    build_s = time.perf_counter() - started
    changed = [Document(d.id, d.text + "\n\nRevised: the timetable changed today.", d.path) if i == 0 else d
               for i, d in enumerate(docs)]
    started = time.perf_counter()
    counts = index.update(changed)
    update_s = time.perf_counter() - started
    return {"chunks": built["chunks"], "baseline_s": baseline_s, "build_s": build_s, "update_s": update_s,
            "update_counts": counts}


def _langchain_build(embedder, chunks, folder: Path) -> float:
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document as LcDocument
    from langchain_core.embeddings import Embeddings

    class SameModel(Embeddings):
        def embed_documents(self, texts):
            return embedder.embed_documents(texts)

        def embed_query(self, text):
            return embedder.embed_query(text)

    client = chromadb.PersistentClient(path=str(folder), settings=Settings(anonymized_telemetry=False))
    documents = [LcDocument(page_content=c.text, metadata=c.metadata()) for c in chunks]
    started = time.perf_counter()
    Chroma.from_documents(documents, SameModel(), client=client, collection_name="baseline",
                          ids=[c.id for c in chunks])
    return time.perf_counter() - started


def bench_query(embedder, root: Path) -> dict:
    import numpy as np

    from tunewise.retrieval.index import open_index

    index = open_index(path=root / "query", embedder=embedder, create=True)
    col = index._create()
    rng = np.random.default_rng(0)
    for start in range(0, N_QUERY_CHUNKS, 2000):
        vectors = rng.normal(size=(2000, embedder.dim)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = [f"c{start + i}" for i in range(2000)]
        col.add(ids=ids, embeddings=vectors, documents=ids,
                metadatas=[{"source": f"d{(start + i) // 10}", "chunk": i % 10, "doc_hash": "x", "n_chunks": 10}
                           for i in range(2000)])
    questions = [f"How long do refunds take for trip number {i}?" for i in range(N_QUERIES)]
    index.query(questions[0], K)  # warm-up: first call pays one-off allocation costs
    total, embed = [], []
    for question in questions:
        started = time.perf_counter()
        embedder.embed_query(question)
        embed.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.query(question, K)
        total.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(total), "p95_ms": sorted(total)[int(0.95 * len(total))],
            "embed_median_ms": statistics.median(embed)}


def main() -> None:
    from tunewise.retrieval.embeddings import Embedder

    # Other work on a shared CPU skews every number here: the load average is printed with the results.
    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    embedder = Embedder("minilm-l6")
    with tempfile.TemporaryDirectory() as tmp:
        build = bench_build_and_update(embedder, Path(tmp))
        query = bench_query(embedder, Path(tmp))
    ours, base = build["chunks"] / build["build_s"], build["chunks"] / build["baseline_s"]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
          f"{date.today()}; load average before/after: {load_before} / {load}")
    print("| measure | baseline | tunewise | ratio |\n| --- | --- | --- | --- |")
    print(f"| indexing, {build['chunks']} chunks of {N_DOCS} docs (chunks/s) | {base:.1f} (langchain_chroma "
          f"from_documents) | {ours:.1f} (ChromaIndex.build) | {ours / base:.2f}x |")
    c = build["update_counts"]
    print(f"| update, 1 of {N_DOCS} docs changed (s) | {build['build_s']:.2f} (full build) | {build['update_s']:.3f} "
          f"({c['chunks_embedded']} chunks embedded, {c['unchanged']} docs unchanged) | "
          f"{build['update_s'] / build['build_s']:.1%} of a build |")
    print(f"| query k={K} over {N_QUERY_CHUNKS:,} chunks (ms) | {query['embed_median_ms']:.1f} (query embedding "
          f"alone, median) | {query['median_ms']:.1f} median, {query['p95_ms']:.1f} p95 (embed + search) | "
          f"target < 20 ms |")


if __name__ == "__main__":
    main()
