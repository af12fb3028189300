"""The ledger: every measured run (compare approaches, tune runs, pilot points) in one SQLite file in the
app home, so later advice can be calibrated from what this machine actually measured.

SQLite in WAL mode, each append one transaction: a writer killed mid-append (kill -9) leaves the ledger
as it was before that append. A file that is not a ledger, or one written by a newer Tunewise, is an
error naming the file; it is never overwritten.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from tunewise.core.errors import TunewiseError
from tunewise.core.files import app_home
from tunewise.core.schema import Record

SCHEMA_VERSION = 1
LEDGER_NAME = "ledger.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    task TEXT,
    examples INTEGER,
    mean_tokens REAL,
    total_tokens INTEGER,
    model TEXT,
    approach TEXT NOT NULL,
    settings TEXT NOT NULL,
    metric TEXT,
    metric_value REAL,
    train_seconds REAL,
    peak_memory_mb REAL,
    latency_ms_p50 REAL,
    device TEXT,
    source TEXT
);
CREATE TABLE IF NOT EXISTS picks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    task TEXT,
    source TEXT,
    advised TEXT NOT NULL,
    with_pilot INTEGER NOT NULL,
    winner TEXT NOT NULL,
    matched INTEGER NOT NULL
);
"""


class LedgerError(TunewiseError):
    """A ledger file that cannot be used as is."""


class MeasuredRun(Record):
    """One measured run: what ran, on what data, and what it measured."""

    kind: Literal["compare", "tune", "pilot"]
    approach: str
    task: str | None = None
    examples: int | None = None
    mean_tokens: float | None = None
    total_tokens: int | None = None
    model: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    metric: str | None = None
    metric_value: float | None = None
    train_seconds: float | None = None
    peak_memory_mb: float | None = None
    latency_ms_p50: float | None = None
    device: str | None = None
    source: str | None = None
    recorded_at: str | None = None
    id: int | None = None


class AdvisorPick(Record):
    """The advisor's pick for a comparison beside the measured winner."""

    advised: str
    winner: str
    with_pilot: bool = False
    matched: bool
    task: str | None = None
    source: str | None = None
    recorded_at: str | None = None


def ledger_path() -> Path:
    return app_home() / LEDGER_NAME


def _create_schema(conn: sqlite3.Connection) -> None:
    """Every table and the version row in one transaction, so no process ever sees half a schema; a
    second process creating the ledger at the same moment waits for the first, then finds it done."""
    conn.execute("BEGIN IMMEDIATE")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone() is None:
        for statement in filter(str.strip, SCHEMA.split(";")):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
    conn.commit()


class Ledger:
    """Open (creating if absent) and check the ledger; `append_*` each commit one transaction."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else ledger_path()
        self._check()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _check(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as conn:
                if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise sqlite3.DatabaseError("quick_check failed")
                if conn.execute("SELECT 1 FROM sqlite_master").fetchone() is None:
                    _create_schema(conn)  # new, or another process is creating it right now
                row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is not a readable Tunewise ledger ({exc}); it was left as it is: "
                              "move it away to start a new one") from None
        version = row[0] if row else None
        if version is None:
            raise LedgerError(f"{self.path} has no schema version; it was left as it is: move it away to start a new one")
        if version > SCHEMA_VERSION:
            raise LedgerError(f"{self.path} was written by a newer Tunewise (ledger version {version}, this one "
                              f"reads {SCHEMA_VERSION}); upgrade Tunewise or point TUNEWISE_HOME elsewhere")

    def append_runs(self, runs: list[MeasuredRun]) -> None:
        """All of `runs` in one transaction: they are all in the ledger afterwards, or none are."""
        now = _now()
        rows = [(r.recorded_at or now, r.kind, r.task, r.examples, r.mean_tokens, r.total_tokens, r.model,
                 r.approach, json.dumps(r.settings, sort_keys=True, default=str), r.metric, r.metric_value,
                 r.train_seconds, r.peak_memory_mb, r.latency_ms_p50, r.device, r.source) for r in runs]
        with closing(self._connect()) as conn, conn:
            conn.executemany(
                "INSERT INTO runs (recorded_at, kind, task, examples, mean_tokens, total_tokens, model, approach, "
                "settings, metric, metric_value, train_seconds, peak_memory_mb, latency_ms_p50, device, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def append_pick(self, pick: AdvisorPick) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("INSERT INTO picks (recorded_at, task, source, advised, with_pilot, winner, matched) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (pick.recorded_at or _now(), pick.task, pick.source,
                                                          pick.advised, int(pick.with_pilot), pick.winner,
                                                          int(pick.matched)))

    def runs(self, kind: str | None = None, approach: str | None = None, task: str | None = None,
             model: str | None = None, limit: int | None = None) -> list[MeasuredRun]:
        """Measured runs, newest first, filtered by any of the given fields."""
        where, args = [], []
        for column, value in (("kind", kind), ("approach", approach), ("task", task), ("model", model)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [MeasuredRun(**{**row, "settings": json.loads(row["settings"])}) for row in self._select(sql, args)]

    def picks(self) -> list[AdvisorPick]:
        rows = self._select("SELECT * FROM picks ORDER BY id DESC", [])
        return [AdvisorPick(**{k: v for k, v in row.items() if k != "id"} | {"with_pilot": bool(row["with_pilot"]),
                                                                             "matched": bool(row["matched"])})
                for row in rows]

    def _select(self, sql: str, args: list) -> list[dict]:
        with closing(self._connect()) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, args)]


def agreement(picks: list[AdvisorPick]) -> dict[str, dict[str, int]]:
    """How often the advisor's pick was the measured winner, with and without a pilot."""
    out = {}
    for label, with_pilot in (("with_pilot", True), ("without_pilot", False)):
        chosen = [p for p in picks if p.with_pilot == with_pilot]
        out[label] = {"comparisons": len(chosen), "matched": sum(p.matched for p in chosen)}
    return out


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_stats(texts: list[str]) -> tuple[float, int]:
    """(mean, total) tokens estimated as chars/4, the advisor's fast estimate."""
    tokens = [max(1, len(t) // 4) for t in texts]
    return (round(sum(tokens) / len(tokens), 1) if tokens else 0.0), sum(tokens)


def training_run_record(run, task: str | None = None) -> MeasuredRun:
    """A `TrainingRun` (run.json) as a ledger row: the data size from its train file, its costs as measured."""
    config = run.config
    examples = mean = total = None
    if config.get("train") and Path(config["train"]).is_file():
        texts = _training_texts(Path(config["train"]), config)
        examples = len(texts)
        mean, total = token_stats(texts)
    settings = {k: config.get(k) for k in ("max_steps", "epochs", "batch_size", "grad_accum", "lr", "max_seq_len",
                                           "lora_r") if config.get(k) is not None}
    settings.update(steps=run.steps, total_params=run.total_params, precision=run.precision)
    return MeasuredRun(kind="tune", approach=run.method, task=task or config.get("task"), examples=examples,
                       mean_tokens=mean, total_tokens=total, model=run.model, settings=settings,
                       metric="eval_loss" if run.eval_loss_after is not None else None,
                       metric_value=run.eval_loss_after, train_seconds=run.train_seconds,
                       peak_memory_mb=run.peak_memory_mb, device=run.device, source=str(run.output_dir))


def _training_texts(path: Path, config: dict) -> list[str]:
    """What a run trained on, as text: preference pairs for preference tuning, examples otherwise."""
    if config.get("method") == "dpo":
        from tunewise.core.preference import load_preferences

        return [" ".join(m["content"] for m in p.prompt) + " " + p.chosen for p in load_preferences(path).pairs]
    from tunewise.core.data import load_dataset

    return [e.prompt + " " + e.response for e in load_dataset(path, config.get("format")).examples]


def record_training_run(run) -> None:
    """The hook at the end of a tuning run: one ledger row for its run.json."""
    Ledger().append_runs([training_run_record(run)])
