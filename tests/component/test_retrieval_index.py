"""ChromaIndex on real Chroma with a tiny real embedder: build, incremental update, resume after kill -9,
embedder checks, and the same operations against a real `chroma run` server."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunewise.core.data import load_corpus
from tests.fakes import build_tiny_embedder

WORDS = "refunds tickets payment billing shipping account harbour ferry lighthouse island tide".split()


@pytest.fixture(scope="module")
def tiny_embedder_dir(tmp_path_factory) -> Path:
    return build_tiny_embedder(tmp_path_factory.mktemp("emb") / "tiny-embedder")


@pytest.fixture(scope="module")
def embedder(tiny_embedder_dir):
    from tunewise.retrieval.embeddings import Embedder

    return Embedder(str(tiny_embedder_dir), batch_size=2)


def write_corpus(folder: Path, n: int = 6, words: int = 60) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(words))
        (folder / f"doc{i}.txt").write_text(f"Document {i}. {body}\n", encoding="utf-8")
    return folder


def open_index(embedder, path, **kwargs):
    from tunewise.retrieval.index import open_index as real_open

    return real_open(path=path, embedder=embedder, chunk_tokens=16, chunk_overlap=4, **kwargs)


def stored_ids(path) -> list[str]:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    return client.get_collection("tunewise", embedding_function=None).get()["ids"]


def test_build_update_counts_and_query(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "docs")
    index = open_index(embedder, tmp_path / "index", create=True)
    built = index.build(load_corpus(corpus))
    assert built["added"] == 6 and built["chunks"] == built["chunks_embedded"] > 6
    (corpus / "doc0.txt").write_text("The lighthouse opens at nine.\n")
    (corpus / "doc1.txt").unlink()
    (corpus / "new.md").write_text("# Ferry\nThe ferry leaves at noon.\n")
    counts = open_index(embedder, tmp_path / "index").update(load_corpus(corpus))
    assert {k: counts[k] for k in ("added", "updated", "deleted", "unchanged")} == \
        {"added": 1, "updated": 1, "deleted": 1, "unchanged": 4}
    from tunewise.retrieval.ingest import Splitter

    splitter = Splitter(embedder.tokenizer, 16, 4)
    changed = [d for d in load_corpus(corpus) if d.id in ("doc0.txt", "new.md")]
    assert counts["chunks_embedded"] == len(splitter.split_all(changed))
    again = open_index(embedder, tmp_path / "index").update(load_corpus(corpus))
    assert again["unchanged"] == 6 and again["chunks_embedded"] == 0
    hits = open_index(embedder, tmp_path / "index").query("The lighthouse opens at nine.", 3)
    assert hits[0].source == "doc0.txt" and hits[0].chunk == 0 and hits[0].score > 0.9
    assert len(stored_ids(tmp_path / "index")) == len(set(stored_ids(tmp_path / "index"))) == again["chunks"]


def test_collection_records_embedder_and_refuses_another(tmp_path, embedder):
    from tunewise.retrieval.embeddings import Embedder
    from tunewise.retrieval.index import IndexStoreError

    index = open_index(embedder, tmp_path / "index", create=True)
    index.build(load_corpus(write_corpus(tmp_path / "docs", n=1)))
    info = index.info()
    assert (info["embedder"], info["embedding_dim"], info["complete"]) == ("tiny-embedder", 32, True)
    copy = tmp_path / "other-embedder"
    shutil.copytree(embedder.ref, copy)
    with pytest.raises(IndexStoreError, match="built with embedder 'tiny-embedder' .* this run uses 'other-embedder'"):
        open_index(Embedder(str(copy)), tmp_path / "index").query("refunds", 2)


KILL_AFTER_FIRST_WRITE = """
import os, signal, sys
from tunewise.core.data import load_corpus
from tunewise.retrieval.embeddings import Embedder
from tunewise.retrieval.index import open_index
def die(done, total):
    os.kill(os.getpid(), signal.SIGKILL)
index = open_index(path=sys.argv[2], embedder=Embedder(sys.argv[1], batch_size=2), chunk_tokens=16,
                   chunk_overlap=4, create=sys.argv[4] == "build", on_progress=die)
getattr(index, sys.argv[4])(load_corpus(sys.argv[3]))
"""


def run_killed(embedder, index_dir, corpus, operation):
    out = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_WRITE, embedder.ref, str(index_dir), str(corpus),
                          operation], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == -9, out.stderr


@pytest.mark.parametrize("operation", ["build", "update"])
def test_killed_run_leaves_an_index_that_reopens_and_completes(tmp_path, embedder, operation):
    corpus = write_corpus(tmp_path / "docs")
    reference = open_index(embedder, tmp_path / "reference", create=True)
    if operation == "update":
        open_index(embedder, tmp_path / "index", create=True).build(load_corpus(corpus))
        for i in range(4):
            (corpus / f"doc{i}.txt").write_text(f"Changed {i}. " + " ".join(WORDS * 3))
    expected = reference.build(load_corpus(corpus))["chunks"]
    run_killed(embedder, tmp_path / "index", corpus, operation)
    partial = stored_ids(tmp_path / "index")
    assert 0 < len(partial)
    index = open_index(embedder, tmp_path / "index", create=operation == "build")
    counts = getattr(index, operation)(load_corpus(corpus))
    assert counts["chunks_embedded"] < expected  # what the killed run stored is not embedded again
    ids = stored_ids(tmp_path / "index")
    assert len(ids) == len(set(ids)) == expected
    assert sorted(ids) == sorted(stored_ids(tmp_path / "reference"))
    assert open_index(embedder, tmp_path / "index").info()["complete"] is True


def test_killed_update_then_edited_again_leaves_no_stale_chunks(tmp_path, embedder):
    """The case that keeps our ledger over LangChain's `index()` with a SQL record manager (bench/RESULTS.md):
    the chunks a killed update stored belong to a version of the documents that is gone by the rerun.
    They carry their document's id inside the index, so the rerun finds and removes them."""
    corpus = write_corpus(tmp_path / "docs")
    open_index(embedder, tmp_path / "index", create=True).build(load_corpus(corpus))
    for version in ("v2", "v3"):
        for i in range(4):
            (corpus / f"doc{i}.txt").write_text(f"Changed {i} {version}. " + " ".join(WORDS * 3))
        if version == "v2":
            run_killed(embedder, tmp_path / "index", corpus, "update")
    open_index(embedder, tmp_path / "index").update(load_corpus(corpus))
    open_index(embedder, tmp_path / "reference", create=True).build(load_corpus(corpus))
    assert sorted(stored_ids(tmp_path / "index")) == sorted(stored_ids(tmp_path / "reference"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_heartbeat(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_for_heartbeat(url: str, proc, timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "chroma run exited"
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no heartbeat from {url}")


@pytest.mark.server
def test_build_update_query_against_a_chroma_server(tmp_path, embedder, chroma_server):
    from tunewise.retrieval.index import open_index as real_open

    corpus = write_corpus(tmp_path / "docs", n=3)
    index = real_open(url=chroma_server, embedder=embedder, collection="team-docs", chunk_tokens=16, chunk_overlap=4)
    built = index.build(load_corpus(corpus))
    assert built["added"] == 3
    (corpus / "doc2.txt").write_text("The tide table moved to the harbour office.")
    counts = real_open(url=chroma_server, embedder=embedder, collection="team-docs").update(load_corpus(corpus))
    assert (counts["updated"], counts["unchanged"]) == (1, 2)
    assert 0 < counts["chunks_embedded"] < built["chunks_embedded"]
    hits = index.query("The tide table moved to the harbour office.", 2)
    assert hits[0].source == "doc2.txt" and hits[0].score > 0.9
    assert not (tmp_path / "index").exists()


def test_unreachable_chroma_server_is_one_clear_error(embedder):
    from tunewise.retrieval.index import IndexStoreError, open_index as real_open

    with pytest.raises(IndexStoreError, match="cannot reach the Chroma server at http://127.0.0.1:9"):
        real_open(url="http://127.0.0.1:9", embedder=embedder).query("x", 1)
