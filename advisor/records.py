"""The advisor's records: `Answers` (what the user says), `DataProfile`/`CorpusProfile` (what the files
show), `Profile` (both), `Ranked`/`Recommendation` (the advice). All round-trip to JSON."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tunewise.core.schema import Record, Task

KnowledgeChanges = Literal["never", "yearly", "monthly", "weekly", "daily"]
ModelAccess = Literal["open-weights", "hub", "api-only", "api-finetune"]
FAST_CHANGES = ("monthly", "weekly", "daily")
API_ACCESS = ("api-only", "api-finetune")


class Answers(Record):
    """The questionnaire's answers; the same keys are read from `--answers FILE` and from flags.

    Every key has a default, so a partial file (a resumed questionnaire) validates; `model_fields_set`
    tells which keys were actually answered.
    """

    task: Task = "generation"
    labelled_examples: int = Field(default=0, ge=0)
    corpus_documents: int = Field(default=0, ge=0)
    knowledge_changes: KnowledgeChanges = "never"
    long_tail: bool = False
    model_access: ModelAccess = "open-weights"
    model_params_b: float = Field(default=0.135, gt=0, le=2000)
    gpu_memory_gb: float = Field(default=0.0, ge=0)
    ram_gb: float = Field(default=16.0, gt=0)
    budget_usd: float | None = Field(default=None, ge=0)
    gpu_hour_usd: float | None = Field(default=None, ge=0)
    token_usd_per_1m: float | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, gt=0)
    cost_per_query_usd: float | None = Field(default=None, ge=0)
    data_may_leave: bool = True

    @property
    def is_api(self) -> bool:
        return self.model_access in API_ACCESS


class TokenStats(Record):
    """Token lengths per example; `method` says whether a tokenizer counted them or chars/4 estimated."""

    method: str
    total: int
    mean: float
    p50: int
    p95: int
    max: int


class DataProfile(Record):
    path: str
    format: str
    examples: int
    tokens: TokenStats
    label_counts: dict[str, int] | None = None
    imbalance_ratio: float | None = None
    exact_duplicates: int = 0
    near_duplicates: int = 0
    conflicting_labels: int = 0
    empty_records: int = 0
    too_long_records: int = 0
    max_seq_len: int = 512
    eval_path: str | None = None
    eval_examples: int | None = None
    leaked_exact: int | None = None
    leaked_near: int | None = None
    dated_records: int = 0
    date_span_days: int | None = None
    versions_seen: int = 0
    warnings: list[str] = Field(default_factory=list)


class CorpusProfile(Record):
    path: str
    documents: int
    empty_documents: int
    exact_duplicates: int
    tokens: TokenStats
    chunks_estimate: int
    previous_path: str | None = None
    added: int | None = None
    removed: int | None = None
    changed: int | None = None
    changed_share: float | None = None
    warnings: list[str] = Field(default_factory=list)


class Profile(Record):
    """Everything the recommendation was based on: the answers used, and what the files showed."""

    answers: Answers
    data: DataProfile | None = None
    corpus: CorpusProfile | None = None
    notes: list[str] = Field(default_factory=list)


class Ranked(Record):
    approach: str
    feasible: bool
    score: float
    reasons: list[str]
    estimates: dict[str, Any]


class Recommendation(Record):
    """`--json` prints exactly these keys."""

    recommendation: str
    ranking: list[Ranked]
    profile: Profile
