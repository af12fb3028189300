"""The pilot's records (what `--json` carries and the plan keeps), and the small pure helpers around them."""
from __future__ import annotations

import re
from pydantic import Field

from tunewise.core.errors import ConfigError
from tunewise.core.schema import PredictedScore, Record


class PilotPoint(Record):
    """One measurement: an approach at a rung (distinct labels it has trained on, steps, examples per step,
    examples seen = steps x batch), scored on the pilot's sample."""

    approach: str
    rung: int
    labels: int
    steps: int | None = None
    batch: int | None = None
    examples_seen: int | None = None
    step_seconds: float | None = None
    value: float
    low: float
    high: float
    seconds: float
    peak_memory_mb: float
    latency_ms_p50: float


class CurveFit(Record):
    approach: str
    family: str
    params: list[float]
    rmse: float
    holdout_error: float | None = None
    stable: bool


class PilotPrediction(PredictedScore):
    """The predicted main metric at the full data and the plan's step budget, with a 95% interval."""

    at_labels: int
    at_steps: int | None = None              # the plan's step budget a trainable approach is predicted at
    within_limits: bool = True
    limit_reasons: list[str] = Field(default_factory=list)

    def as_plan_prediction(self) -> PredictedScore:
        return PredictedScore(**self.model_dump(include=set(PredictedScore.model_fields)))


class PilotResult(Record):
    metric: str
    sample_size: int
    train_examples: int
    budget_seconds: float
    seconds: float
    peak_memory_mb: float
    compare_estimate_seconds: float | None = None   # the full compare of the same plan, from the pilot's measurements
    planned_seconds: float | None = None            # what the pilot allowed itself: min(budget, a share of that)
    eval_source: str = "eval set"                   # or "held-out slice of train"
    interrupted: bool = False
    points: list[PilotPoint] = Field(default_factory=list)
    curves: list[CurveFit] = Field(default_factory=list)
    predictions: list[PilotPrediction] = Field(default_factory=list)
    dropped: dict[str, str] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list)
    crossings: list[str] = Field(default_factory=list)
    statements: list[str] = Field(default_factory=list)
    recommendation: str | None = None


UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """'10m', '90s', '1.5h' or plain seconds -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"--pilot-budget '{text}' is not a duration; write it like 90s, 10m or 1h")
    return float(match.group(1)) * UNITS[match.group(2) or "s"]


def rank_predictions(predictions: list[PilotPrediction], latency: dict[str, float]) -> list[PilotPrediction]:
    """Within the user's limits first, then by predicted value; near ties go to the faster approach.

    A floor (a trainable's short run that no curve carries to the plan's steps, basis "last-point") is a
    lower bound, not an estimate: when it already reaches the leader's interval, the approach ranks first,
    since its full run is expected to score higher still. On WordNet definitions LoRA's 3-step floor (ROUGE-L
    0.17) sat inside few-shot's interval (0.19 [0.08, 0.37]); ranked by value the pilot picked few-shot,
    and compare measured LoRA the clear winner (0.22 against 0.18, bench/RESULTS.md)."""
    ranked = sorted(predictions, key=lambda p: (not p.within_limits, -round(p.value, 2), latency.get(p.approach, 0.0)))
    if not ranked or is_floor(ranked[0]):
        return ranked
    leader = ranked[0]
    reaching = [p for p in ranked[1:] if is_floor(p) and p.within_limits >= leader.within_limits
                and p.value >= leader.low]
    if reaching:
        ranked.remove(reaching[0])
        ranked.insert(0, reaching[0])
    return ranked


def is_floor(p: PilotPrediction) -> bool:
    return p.basis == "last-point"


def floor_lead_statements(ranked: list[PilotPrediction]) -> list[str]:
    """Why a floor leads an approach whose predicted value is higher (`rank_predictions`)."""
    if len(ranked) < 2 or not is_floor(ranked[0]) or ranked[1].value <= ranked[0].value:
        return []
    floor, other = ranked[0], ranked[1]
    return [f"{floor.approach} leads although {other.approach} measured higher: {floor.approach}'s "
            f"{floor.value:.2f} is a floor from a short run, already inside {other.approach}'s interval "
            f"[{other.low:.2f}, {other.high:.2f}], and the plan's full training is expected to raise it; "
            "`compare` measures both."]


def separation_statements(ranked: list[PilotPrediction], sample: int) -> list[str]:
    """Plain words where the sample cannot separate the leader from another approach."""
    if len(ranked) < 2:
        return []
    leader = ranked[0]
    close = [p for p in ranked[1:] if p.within_limits and p.high >= leader.low]
    if not close:
        return [f"{leader.approach} leads clearly: its interval [{leader.low:.2f}, {leader.high:.2f}] lies above "
                "every other approach's."]
    names = ", ".join(f"{p.approach} ({p.value:.2f} [{p.low:.2f}, {p.high:.2f}])" for p in close)
    return [f"The pilot's sample of {sample} examples is too small to separate {leader.approach} "
            f"({leader.value:.2f} [{leader.low:.2f}, {leader.high:.2f}]) from {names}; `compare` on the full "
            "eval set will decide."]


def round_labels(x: float) -> int:
    """Two significant figures: 'about 2,000 labels', not 'about 1,987'."""
    if x < 100:
        return int(round(x))
    digits = len(str(int(x))) - 2
    return int(round(x, -digits))
