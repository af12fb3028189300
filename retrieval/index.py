"""`ChromaIndex`: chunks of a corpus in Chroma, embedded by us, kept in step with the corpus.

The index is its own content-hash ledger: every chunk records its document id, the document's hash and
the document's chunk count, and chunk ids are deterministic (see `retrieval.ingest`). An update therefore
embeds only added or changed documents, removes the chunks of deleted ones, and an interrupted build or
update is completed by running it again: chunks already stored are skipped, stale ones removed, and no
id can be stored twice. Chroma writes each batch in one transaction, so a killed run leaves an index that
opens.

Why not LangChain's indexing API (`index()` with a `SQLRecordManager`, issue 12): its ledger is a second
store beside Chroma, written after the vectors. A kill between the two leaves chunks in Chroma that no
record names; if the document changes again before the rerun, nothing ever deletes them and stale text
is retrieved for good (bench/index_crash.py, scenario 4; bench/RESULTS.md). `cleanup="incremental"` also
never drops deleted documents. Here the ledger is the collection, so one write updates both, and a
Chroma server shared by several clients needs no shared record database.
"""
from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlparse

from tunewise.core.defaults import CHUNK_OVERLAP, CHUNK_TOKENS, DEFAULT_EMBEDDER, RAG_K
from tunewise.core.data import Document
from tunewise.core.errors import DataError, TunewiseError, os_error_line
from tunewise.core.files import OUTPUT_MARKER, check_apart, mark_output
from tunewise.core.reading import ReadPolicy
from tunewise.retrieval.embeddings import Embedder
from tunewise.retrieval.ingest import SPECIAL_TOKENS, Chunk, Splitter, document_hash, load_documents

DEFAULT_COLLECTION = "tunewise"
SQLITE_FILE = "chroma.sqlite3"
READ_PAGE = 5000
DELETE_BATCH = 1000
# Chroma's own small tables, read when a client starts: when one of them is damaged its Rust core panics,
# printing a backtrace to stderr before Python sees the error. Checked first (a few pages, whatever the index size).
SYSTEM_TABLES = ("migrations", "tenants", "databases", "collections", "collection_metadata", "segments",
                 "segment_metadata", "maintenance_log", "max_seq_id", "embeddings_queue_config", "acquire_write")
FULL_DISK_BYTES = 4 * 2**20   # less free space than this when a write fails: the disk is full
WRITE_BATCHES = 4        # embedder batches per stored batch: fewer, larger writes, still fine-grained progress

Progress = Callable[[int, int], None]   # (chunks done so far, chunks to embed in all)


class IndexStoreError(TunewiseError):
    """An index that is missing, unreachable, damaged, or built in a way this run cannot use."""


def store_errors(method):
    """Chroma's own failures (a truncated or overwritten SQLite file, a server error) as one line naming
    the store; our errors pass through unchanged."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except TunewiseError:
            raise
        except BaseException as exc:  # Chroma's Rust core panics (a BaseException) on some damaged files
            if not _is_store_failure(exc):
                raise
            raise damaged(self.path, self.where, exc) from None
    return guarded


def _is_store_failure(exc: BaseException) -> bool:
    import sqlite3

    from chromadb.errors import ChromaError

    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        return False
    return (isinstance(exc, (ChromaError, sqlite3.DatabaseError)) or type(exc).__name__ == "PanicException"
            or "database" in str(exc).lower())


def _nearly_full(path: Path) -> bool:
    """Chroma reports a full disk during compaction only as a failed write; the free space tells."""
    try:
        return shutil.disk_usage(path).free < FULL_DISK_BYTES
    except OSError:
        return False


def damaged(path: Path | None, where: str, exc: BaseException) -> IndexStoreError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "disk is full" in reason or (path is not None and _nearly_full(path)):
        return IndexStoreError(f"{path / SQLITE_FILE if path else where}: no space left on device; free some space "
                               "and run the same command again: it finishes the build, chunks already stored are kept")
    if os_error_line(exc, path or where) is not None:
        return IndexStoreError(os_error_line(exc, path or where))
    if path is None:
        return IndexStoreError(f"{where}: the Chroma store failed ({reason})")
    return IndexStoreError(f"{path / SQLITE_FILE}: the index is damaged ({reason}); move {path} away and "
                           "run `tunewise index build` again")


@dataclass(frozen=True)
class Hit:
    text: str
    source: str     # the document id
    chunk: int
    score: float    # cosine similarity, higher is closer


@dataclass
class _Stored:
    ids: list[str]
    hashes: set[str]
    n_chunks: int


def open_client(path: str | Path | None = None, url: str | None = None, create: bool = False):
    """An embedded `PersistentClient` on `path`, or an `HttpClient` for `url`; telemetry off either way."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise IndexStoreError(f"--chroma-url '{url}' must look like http://host:port")
        try:
            return chromadb.HttpClient(host=parsed.hostname, port=parsed.port or 8000,
                                       ssl=parsed.scheme == "https", settings=settings)
        except Exception as exc:  # the client raises several types for a server that is not there
            raise IndexStoreError(f"cannot reach the Chroma server at {url} ({type(exc).__name__}); "
                                  "is `chroma run` up?") from None
    if path is None:
        raise IndexStoreError("give an index folder (--index DIR) or a Chroma server (--chroma-url URL)")
    path = Path(path)
    _check_index_folder(path, create)
    _check_system_tables(path)
    try:
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except BaseException as exc:
        if not _is_store_failure(exc):
            raise
        raise damaged(path, str(path), exc) from None


def _check_index_folder(path: Path, create: bool) -> None:
    if path.exists() and not path.is_dir():
        raise IndexStoreError(f"{path}: is a file, not an index folder")
    holds_index = (path / SQLITE_FILE).exists()
    if holds_index and (path / SQLITE_FILE).stat().st_size == 0:
        raise IndexStoreError(f"{path / SQLITE_FILE}: the index is damaged (the file is empty); move {path} "
                              "away and run `tunewise index build` again")
    if not create and not holds_index:
        raise IndexStoreError(f"{path}: no index here; run `tunewise index build CORPUS --index {path}` first")
    if create and not holds_index and path.exists() and any(p.name != OUTPUT_MARKER for p in path.iterdir()):
        raise IndexStoreError(f"{path}: folder is not empty and holds no index; choose a new or empty folder")


def _check_system_tables(path: Path) -> None:
    """Name a damaged index before Chroma opens it (see SYSTEM_TABLES): SQLite's own check of those tables.
    A database that is busy or cannot be opened is left for Chroma to report."""
    import sqlite3
    from contextlib import closing

    file = path / SQLITE_FILE
    if not file.exists():
        return
    try:
        with closing(sqlite3.connect(f"{file.resolve().as_uri()}?mode=rw", uri=True, timeout=2)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in (t for t in SYSTEM_TABLES if t in tables):
                problem = db.execute(f"PRAGMA quick_check({table})").fetchone()[0]
                if problem != "ok":
                    raise sqlite3.DatabaseError(f"table {table}: {problem}")
    except sqlite3.OperationalError:
        return
    except sqlite3.DatabaseError as exc:
        raise damaged(path, str(path), exc) from None


class ChromaIndex:
    """One Chroma collection; the embedder, client and splitter settings are passed in."""

    def __init__(self, embedder: Embedder, client, collection: str = DEFAULT_COLLECTION,
                 chunk_tokens: int | None = None, chunk_overlap: int | None = None,
                 on_progress: Progress | None = None, where: str | None = None, path: Path | None = None):
        self.embedder = embedder
        self.path = Path(path) if path is not None else None
        self.client = client
        self.name = collection
        # Defaults fit the embedder: MiniLM gets 200/32, a model reading fewer tokens gets less.
        self.chunk_tokens = chunk_tokens or min(CHUNK_TOKENS, embedder.max_tokens - SPECIAL_TOKENS)
        self.chunk_overlap = chunk_overlap if chunk_overlap is not None else min(CHUNK_OVERLAP,
                                                                                 self.chunk_tokens // 4)
        self.on_progress = on_progress
        self.where = where or f"collection '{collection}'"

    # -- public operations ---------------------------------------------------------------------------

    @store_errors
    def build(self, documents: Sequence[Document], force: bool = False) -> dict[str, int]:
        """Index `documents` into a new collection, or finish an interrupted build of this one."""
        col = self._find()
        if col is not None and force:
            self.client.delete_collection(self.name)
            col = None
        if col is not None and col.metadata.get("complete"):
            raise IndexStoreError(f"{self.where} already holds a complete index; run `tunewise index update` "
                                  "to change it, or pass --force to rebuild it")
        if col is None:
            col = self._create()
        else:
            self._check_embedder(col)
        return self._sync(col, documents)

    @store_errors
    def update(self, documents: Sequence[Document]) -> dict[str, int]:
        """Bring the collection in step with `documents`: embed only what was added or changed."""
        return self._sync(self._existing(), documents)

    @store_errors
    def is_complete(self) -> bool:
        """True once a build has finished (an interrupted one is finished by building again)."""
        col = self._find()
        return col is not None and bool(col.metadata.get("complete"))

    @store_errors
    def query(self, text: str, k: int = RAG_K, embedding: list[float] | None = None) -> list[Hit]:
        """The k closest chunks; pass `embedding` when the caller has already embedded `text`."""
        col = self._existing()
        vector = embedding if embedding is not None else self.embedder.embed_query(text)
        result = col.query(query_embeddings=[vector], n_results=k,
                           include=["documents", "metadatas", "distances"])
        return [
            Hit(doc, meta["source"], int(meta["chunk"]), round(1.0 - float(dist), 6))
            for doc, meta, dist in zip(result["documents"][0], result["metadatas"][0], result["distances"][0])
        ]

    @store_errors
    def fingerprint(self) -> str:
        """A digest of what the index holds (its chunks, their documents' hashes, the embedder and chunking),
        so anything trained on its scores can tell when it has changed."""
        from tunewise.core.data import text_sha256

        col = self._existing()
        ids, metas = self._metadatas(col)
        held = sorted(f"{cid}:{meta['doc_hash']}" for cid, meta in zip(ids, metas))
        settings = {k: v for k, v in self._metadata(True).items() if k != "complete"}
        return text_sha256(repr((settings, held)))[:16]

    @store_errors
    def info(self) -> dict[str, object]:
        col = self._existing()
        sources = {meta["source"] for meta in self._metadatas(col)[1]}
        return {"collection": self.name, "where": self.where, "chunks": col.count(),
                "documents": len(sources), **col.metadata}

    # -- internals -----------------------------------------------------------------------------------

    def _find(self):
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(self.name, embedding_function=None)
        except NotFoundError:
            return None
        except ValueError as exc:  # older servers report a missing collection this way
            if "does not exist" in str(exc):
                return None
            raise

    def _existing(self):
        col = self._find()
        if col is None:
            raise IndexStoreError(f"{self.where}: no such collection; run `tunewise index build` first")
        self._check_embedder(col)
        self.chunk_tokens = int(col.metadata.get("chunk_tokens", self.chunk_tokens))
        self.chunk_overlap = int(col.metadata.get("chunk_overlap", self.chunk_overlap))
        return col

    def _metadata(self, complete: bool) -> dict[str, object]:
        return {"embedder": self.embedder.name, "embedding_dim": self.embedder.dim,
                "chunk_tokens": self.chunk_tokens, "chunk_overlap": self.chunk_overlap, "complete": complete}

    def _create(self):
        # Our own embeddings always: with no embedding function, Chroma never fetches its default model.
        return self.client.create_collection(self.name, embedding_function=None, metadata=self._metadata(False),
                                             configuration={"hnsw": {"space": "cosine"}})

    def _check_embedder(self, col) -> None:
        meta = col.metadata or {}
        built = (meta.get("embedder"), meta.get("embedding_dim"))
        if built != (self.embedder.name, self.embedder.dim):
            raise IndexStoreError(
                f"{self.where} was built with embedder '{built[0]}' ({built[1]} dimensions) but this run uses "
                f"'{self.embedder.name}' ({self.embedder.dim}); pass --embedder {built[0]} or rebuild with --force"
            )

    def _metadatas(self, col) -> tuple[list[str], list[dict]]:
        ids: list[str] = []
        metas: list[dict] = []
        while True:
            page = col.get(include=["metadatas"], limit=READ_PAGE, offset=len(ids))
            ids.extend(page["ids"])
            metas.extend(page["metadatas"])
            if len(page["ids"]) < READ_PAGE:
                return ids, metas

    def _stored(self, col) -> dict[str, _Stored]:
        stored: dict[str, _Stored] = {}
        for cid, meta in zip(*self._metadatas(col)):
            entry = stored.setdefault(meta["source"], _Stored([], set(), int(meta["n_chunks"])))
            entry.ids.append(cid)
            entry.hashes.add(meta["doc_hash"])
        return stored

    def _sync(self, col, documents: Sequence[Document]) -> dict[str, int]:
        stored = self._stored(col)
        counts = {"added": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        changed: list[Document] = []
        for doc in documents:
            entry = stored.get(doc.id)
            if entry is not None and entry.hashes == {document_hash(doc)} and len(entry.ids) == entry.n_chunks:
                counts["unchanged"] += 1
                continue
            stale_hash = entry is not None and bool(entry.hashes - {document_hash(doc)})
            counts["updated" if stale_hash else "added"] += 1
            changed.append(doc)
        splitter = Splitter(self.embedder.tokenizer, self.chunk_tokens, self.chunk_overlap, self.embedder.max_tokens)
        chunks = splitter.split_all(changed)
        present = {cid for doc in changed if doc.id in stored for cid in stored[doc.id].ids}
        todo = [c for c in chunks if c.id not in present]
        self._check_room(todo)
        embedded = self._write(col, todo)
        keep = {c.id for c in chunks}
        live = {doc.id for doc in documents}
        stale = [cid for doc in changed if doc.id in stored for cid in stored[doc.id].ids if cid not in keep]
        for source, entry in stored.items():
            if source not in live:
                counts["deleted"] += 1
                stale.extend(entry.ids)
        for start in range(0, len(stale), DELETE_BATCH):
            col.delete(ids=stale[start:start + DELETE_BATCH])
        col.modify(metadata=self._metadata(True))
        return {**counts, "chunks_embedded": embedded, "chunks_deleted": len(stale), "chunks": col.count()}

    def _check_room(self, chunks: list[Chunk]) -> None:
        """Refuse up front when the disk cannot hold the chunks: Chroma's Rust core can hang, not fail,
        when it runs out of space mid-write. The estimate is generous (vectors, text and index overhead)."""
        if self.path is None or not chunks:
            return
        need = sum(len(c.text.encode("utf-8")) * 3 + self.embedder.dim * 4 * 4 + 512 for c in chunks)
        free = shutil.disk_usage(self.path).free
        if free < need + FULL_DISK_BYTES:
            raise IndexStoreError(f"{self.path}: not enough free space for {len(chunks)} chunks (about "
                                  f"{need / 2**20:.1f} MB needed, {free / 2**20:.1f} MB free); free some space "
                                  "and run the same command again")

    def _write(self, col, chunks: list[Chunk]) -> int:
        """Embed and store in batches, each one its own transaction, so a kill loses one batch at most."""
        batch = self.embedder.batch_size * WRITE_BATCHES
        for start in range(0, len(chunks), batch):
            part = chunks[start:start + batch]
            col.upsert(ids=[c.id for c in part], embeddings=self.embedder.embed_documents([c.text for c in part]),
                       documents=[c.text for c in part], metadatas=[c.metadata() for c in part])
            if self.on_progress is not None:
                self.on_progress(start + len(part), len(chunks))
        return len(chunks)


def open_index(path: str | Path | None = None, url: str | None = None, collection: str = DEFAULT_COLLECTION,
               embedder: str | Embedder = DEFAULT_EMBEDDER, create: bool = False, **kwargs) -> ChromaIndex:
    """Open the store first (a missing index fails before the embedder loads), then the embedder."""
    client = open_client(path, url, create=create)
    where = f"{url or path} (collection '{collection}')"
    model = embedder if isinstance(embedder, Embedder) else Embedder(embedder)
    return ChromaIndex(model, client, collection, where=where, path=None if url else path, **kwargs)


def build_index(corpus: str | Path, force: bool = False, reading: ReadPolicy = ReadPolicy(), **kwargs) -> dict[str, int]:
    """`tunewise index build`: the corpus is read (under `reading`) and checked before anything is opened
    or written."""
    documents = _corpus(corpus, kwargs.get("path"), reading)
    index = open_index(create=True, **kwargs)
    if kwargs.get("path") is not None:
        mark_output(kwargs["path"], "index build")
    return index.build(documents, force=force)


def update_index(corpus: str | Path, reading: ReadPolicy = ReadPolicy(), **kwargs) -> dict[str, int]:
    documents = _corpus(corpus, kwargs.get("path"), reading)
    return open_index(**kwargs).update(documents)


def _corpus(folder: str | Path, index_dir: str | Path | None, reading: ReadPolicy) -> list[Document]:
    if index_dir is not None:
        check_apart(index_dir, [folder])
    documents = load_documents(folder, reading)
    if not documents:
        raise DataError(folder, "every document is empty; there is no text to index")
    return documents
