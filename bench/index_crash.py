"""Crash/resume experiment: LangChain's indexing API (`index()` + `SQLRecordManager`) against `ChromaIndex`.

Both index the same chunks (our splitter, the bundled MiniLM embedder) into embedded Chroma. Each killed
run is a child process that gets SIGKILL (kill -9) at a named point, or from outside after a delay; the
parent then reruns the same operation and compares what the store holds with the chunks of the corpus
as it now is: duplicated, missing and stale (from an older version of a document) chunks, and, for
LangChain, the keys on which its two stores (record manager and vector store) disagree.

Scenarios
1. build, killed after the first stored batch, rerun
2. build, killed from outside after 1, 2, 4 s, rerun
3. update of changed documents, killed after the first stored batch, rerun on the same corpus
4. update of changed documents, killed after the first stored batch; the documents are edited again
   (the user fixes a typo, or reverts) before the rerun
5. update, killed between deleting old chunks from the vector store and from the record manager, rerun
6. update after a document is deleted, no kill (LangChain with cleanup="incremental" and "full")

Run: `.venv/bin/pip install langchain-classic && .venv/bin/python -m bench.index_crash` (about 3 min on
2 CPU cores). `langchain-classic` is not a tunewise dependency: this file is the evidence for not using it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

N_DOCS, WORDS = 24, 420
BATCH = 16            # LangChain's index() batch and ChromaIndex's stored batch, in chunks
TOPICS = "refunds shipping invoices ferries tides harbours lighthouses islands warranties returns".split()


def write_corpus(folder: Path, version: str = "v1", changed: range = range(0)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(N_DOCS):
        tag = version if i in changed else "v1"
        words = " ".join(TOPICS[(i * 7 + j * 3) % len(TOPICS)] + (f" {tag}" if j % 11 == 0 else "")
                         for j in range(WORDS))
        (folder / f"doc{i:02d}.md").write_text(f"# Document {i} ({tag})\n\n{words}\n", encoding="utf-8")


# -- the two systems, as the child and the parent run them ----------------------------------------------

def embedder():
    from tunewise.retrieval.embeddings import Embedder

    return Embedder(batch_size=BATCH // 4)


def lc_parts(store: Path, model):
    from langchain_chroma import Chroma
    from langchain_classic.indexes import SQLRecordManager
    from langchain_core.embeddings import Embeddings

    class Wrapped(Embeddings):
        def embed_documents(self, texts):
            return model.embed_documents(texts)

        def embed_query(self, text):
            return model.embed_query(text)

    vectors = Chroma("tunewise", embedding_function=Wrapped(), persist_directory=str(store),
                     collection_metadata={"hnsw:space": "cosine"})
    records = SQLRecordManager("chroma/tunewise", db_url=f"sqlite:///{store}/records.sqlite3")
    records.create_schema()
    return vectors, records


def lc_documents(corpus: Path, model):
    from langchain_core.documents import Document as LCDocument

    from tunewise.core.data import load_corpus
    from tunewise.retrieval.ingest import Splitter

    splitter = Splitter(model.tokenizer, 200, 32, model.max_tokens)
    return [LCDocument(page_content=c.text, metadata={"source": c.source, "chunk": c.chunk})
            for c in splitter.split_all(load_corpus(corpus))]


def lc_run(store: Path, corpus: Path, model, cleanup: str = "incremental"):
    from langchain_core.indexing import index

    vectors, records = lc_parts(store, model)
    return index(lc_documents(corpus, model), records, vectors, cleanup=cleanup, source_id_key="source",
                 batch_size=BATCH)


def ours_run(store: Path, corpus: Path, model, operation: str, on_progress=None):
    from tunewise.core.data import load_corpus
    from tunewise.retrieval.index import open_index

    index = open_index(path=store, embedder=model, create=operation == "build", on_progress=on_progress)
    return getattr(index, operation)(load_corpus(corpus))


def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)


def child(system: str, store: str, corpus: str, operation: str, kill_at: str) -> None:
    """Run one operation and kill -9 ourselves at `kill_at` ('first-write', 'store-delete' or 'none')."""
    model = embedder()
    if system == "ours":
        ours_run(Path(store), Path(corpus), model, operation, on_progress=die if kill_at == "first-write" else None)
        return
    from langchain_chroma import Chroma

    if kill_at == "first-write":   # the vector store holds the batch, the record manager does not yet
        original = Chroma.add_documents
        Chroma.add_documents = lambda self, *a, **k: (original(self, *a, **k), die())
    if kill_at == "store-delete":  # old chunks left the vector store, their records not yet
        original_delete = Chroma.delete
        Chroma.delete = lambda self, *a, **k: (original_delete(self, *a, **k), die())
    lc_run(Path(store), Path(corpus), model)


def killed(system: str, store: Path, corpus: Path, operation: str, kill_at: str = "first-write",
           after_s: float | None = None) -> int:
    args = [sys.executable, "-m", "bench.index_crash", "child", system, str(store), str(corpus), operation, kill_at]
    proc = subprocess.Popen(args, cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if after_s is not None:
        deadline = time.monotonic() + after_s + 60   # the child's imports and model load come first
        while not (store / "chroma.sqlite3").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(after_s)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.returncode


# -- what a store holds, against the corpus ----------------------------------------------------------

def audit(system: str, store: Path, corpus: Path, model) -> dict[str, int]:
    import chromadb
    from chromadb.config import Settings

    from tunewise.core.data import load_corpus
    from tunewise.retrieval.ingest import Splitter

    splitter = Splitter(model.tokenizer, 200, 32, model.max_tokens)
    truth = Counter((c.source, c.text) for c in splitter.split_all(load_corpus(corpus)))
    client = chromadb.PersistentClient(path=str(store), settings=Settings(anonymized_telemetry=False))
    got = client.get_collection("tunewise", embedding_function=None).get(include=["documents", "metadatas"])
    held = Counter((m["source"], d) for d, m in zip(got["documents"], got["metadatas"]))
    row = {"chunks": sum(held.values()), "expected": sum(truth.values()),
           "duplicated": sum(n - 1 for n in held.values() if n > 1),
           "missing": sum((truth - held).values()), "stale": sum((held - truth).values())}
    if system == "langchain":
        _, records = lc_parts(store, model)
        keys = set(records.list_keys())
        row["records without vectors"] = len(keys - set(got["ids"]))
        row["vectors without records"] = len(set(got["ids"]) - keys)
    return row


def scenario(name: str, system: str, model, root: Path, steps) -> dict:
    store, corpus = root / f"{system}-{abs(hash(name))}" / "index", root / f"{system}-{abs(hash(name))}" / "docs"
    store.parent.mkdir(parents=True)
    rc = steps(system, store, corpus, model)
    return {"scenario": name, "system": system, "child exit": rc, **audit(system, store, corpus, model)}


def rerun(system, store, corpus, model, operation):
    if system == "ours":
        return ours_run(store, corpus, model, operation)
    return lc_run(store, corpus, model)


def built(system, store, corpus, model):
    write_corpus(corpus)
    rerun(system, store, corpus, model, "build")


def s_build_killed(system, store, corpus, model):
    write_corpus(corpus)
    rc = killed(system, store, corpus, "build")
    rerun(system, store, corpus, model, "build")
    return rc


def s_build_killed_after(seconds):
    def steps(system, store, corpus, model):
        write_corpus(corpus)
        rc = killed(system, store, corpus, "build", "none", after_s=seconds)
        rerun(system, store, corpus, model, "build")
        return rc
    return steps


def s_update_killed(edit_again: str | None):
    def steps(system, store, corpus, model):
        built(system, store, corpus, model)
        write_corpus(corpus, "v2", range(0, 12))
        rc = killed(system, store, corpus, "update")
        if edit_again:
            write_corpus(corpus, edit_again, range(0, 12))
        rerun(system, store, corpus, model, "update")
        return rc
    return steps


def s_update_killed_in_cleanup(system, store, corpus, model):
    built(system, store, corpus, model)
    write_corpus(corpus, "v2", range(0, 12))
    rc = killed(system, store, corpus, "update", "store-delete" if system == "langchain" else "first-write")
    rerun(system, store, corpus, model, "update")
    return rc


def s_delete_document(cleanup):
    def steps(system, store, corpus, model):
        built(system, store, corpus, model)
        (corpus / "doc03.md").unlink()
        if system == "ours":
            ours_run(store, corpus, model, "update")
        else:
            lc_run(store, corpus, model, cleanup)
        return 0
    return steps


SCENARIOS = {
    "1 build killed after first write, rerun": s_build_killed,
    "2a build killed from outside at 1 s, rerun": s_build_killed_after(1.0),
    "2b build killed from outside at 2 s, rerun": s_build_killed_after(2.0),
    "2c build killed from outside at 4 s, rerun": s_build_killed_after(4.0),
    "3 update killed after first write, rerun": s_update_killed(None),
    "4a update killed after first write, docs edited again, rerun": s_update_killed("v3"),
    "4b update killed after first write, docs reverted, rerun": s_update_killed("v1"),
    "5 update killed inside cleanup, rerun": s_update_killed_in_cleanup,
}


def main(only: list[str]) -> None:
    """Every scenario, or those whose names start with one of `only` (e.g. `4 6`)."""
    model = embedder()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, steps in SCENARIOS.items():
            if only and not any(name.startswith(prefix) for prefix in only):
                continue
            for system in ("ours", "langchain"):
                rows.append(scenario(name, system, model, Path(tmp), steps))
                print(rows[-1], flush=True)
        if only and "6" not in only:
            return _table(rows)
        rows.append(scenario("6 document deleted, update", "ours", model, Path(tmp), s_delete_document(None)))
        print(rows[-1], flush=True)
        for cleanup in ("incremental", "full"):
            rows.append(scenario(f"6 document deleted, update (cleanup={cleanup})", "langchain", model, Path(tmp),
                                 s_delete_document(cleanup)))
            print(rows[-1], flush=True)
    _table(rows)


def _table(rows: list[dict]) -> None:
    import platform

    import chromadb
    import langchain_classic
    import langchain_core

    print(f"\n{platform.machine()}, Python {platform.python_version()}, chromadb {chromadb.__version__}, "
          f"langchain-core {langchain_core.__version__}, langchain-classic {langchain_classic.__version__}, "
          f"{N_DOCS} docs, all-MiniLM-L6-v2, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    print("| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child(*sys.argv[2:7])
    else:
        main(sys.argv[1:])
