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
    preference: dict[str, Any] | None = None    # preference accuracy and loss on held-out pairs
    search: dict[str, Any] | None = None        # what an approach that searches its settings tried
    device: str | None = None                   # "cpu" or "cuda": which hour price its latency costs


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
    failed: dict[str, str] = Field(default_factory=dict)   # approach -> why it failed (its training diverged)
    verdict: dict[str, Any] | None = None
    predicted_vs_measured: list[dict[str, Any]] | None = None   # the plan's pilot predictions beside the measurements
    machine: dict[str, Any]
    date: str


class PredictionRow(Record):
    """One line of predictions/NAME.jsonl: one approach's answer to one eval example, and what it cost.
    Fields added since the first version are optional, so the predictions of older runs read back."""

    id: str
    input: str
    reference: str
    prediction: str
    latency_ms: float = Field(ge=0)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None        # tokens generated (none for label scoring); API money
    ref_logprob: float | None = None            # the reference's log-likelihood (local models), for perplexity
    ref_tokens: int | None = None
    retrieved: list[str] | None = None          # document ids, best first (RAG)
    source: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)   # chosen label's probability (label scoring)
    route: str | None = None                    # the approach a router sent this example to
