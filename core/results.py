"""The records `compare` writes and reads back: one per finished approach, and the whole comparison.

Both are validated when written and when read (a resumed run reads approaches/NAME.json through
`ApproachResult.load`), so a file from another version or edited into nonsense is one clear error.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from tunewise.core.schema import Record

RESULTS_VERSION = 1


class CatchUp(Record):
    seconds: float
    how: str


class Drift(Record):
    """The same approach on questions about facts that changed, and what catching up costs it."""

    metrics: dict[str, float]
    catch_up: CatchUp


class ApproachResult(Record):
    """approaches/NAME.json: the metrics and costs of one finished approach."""

    version: int = Field(default=RESULTS_VERSION, ge=1, le=RESULTS_VERSION)
    metrics: dict[str, float]
    costs: dict[str, float]
    examples: int = Field(ge=0)
    losses: list[list[float]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    per_class_f1: dict[str, float] | None = None
    forgetting: dict[str, float] | None = None
    drift: Drift | None = None
    safety: dict[str, Any] | None = None


class Comparison(Record):
    """results.json: every approach of a comparison, the measured winner and the advisor's pick."""

    version: int = Field(default=RESULTS_VERSION, ge=1, le=RESULTS_VERSION)
    task: str
    model: str
    primary_metric: str
    approaches: dict[str, ApproachResult] = Field(min_length=1)
    winner: str
    recommendation: str
    advisor: dict[str, Any]
    disagreement: list[str] = Field(default_factory=list)
    verdict: dict[str, Any] | None = None
    machine: dict[str, Any]
    date: str
