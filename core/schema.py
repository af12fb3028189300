"""Typed records shared across packages. Each validates itself and round-trips to JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator

from tunewise.core import registry
from tunewise.core.defaults import DEFAULT_EMBEDDER, DEFAULT_GENERATOR
from tunewise.core.errors import ConfigError, TunewiseError
from tunewise.core.files import atomic_write_text
from tunewise.core.reading import read_capped

TASKS = ("classification", "extraction", "generation", "qa", "style")
Task = Literal["classification", "extraction", "generation", "qa", "style"]


class Record(BaseModel):
    """Base for every record: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str):
        return cls.model_validate_json(text)

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path):
        path = Path(path)
        try:
            return cls.model_validate(json.loads(read_capped(path, what="record").decode("utf-8")))
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        except (UnicodeDecodeError, RecursionError) as exc:
            problem = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
            raise ConfigError(f"{path}: invalid JSON ({problem})") from None
        except ValidationError as exc:
            raise ConfigError(f"{path}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """One sentence naming the first offending key, e.g. "unknown key 'lrr'"."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "value_error":
        return f"key '{key}': {err['msg'].removeprefix('Value error, ')}"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if err["type"] == "missing":
        return f"missing required key '{key}'"
    more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    return f"key '{key}': {err['msg']}{more}"


class ApiModel(Record):
    """An OpenAI-compatible chat-completions endpoint. The key is read from `api_key_env` at call time."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


ModelRef = str | ApiModel


class Prices(Record):
    """Prices the user gives, so estimates and reports can show money."""

    gpu_hour_usd: float | None = Field(default=None, ge=0)
    cpu_hour_usd: float | None = Field(default=None, ge=0)
    input_token_usd_per_1m: float | None = Field(default=None, ge=0)
    output_token_usd_per_1m: float | None = Field(default=None, ge=0)

    def tokens_usd(self, prompt_tokens: float, completion_tokens: float) -> float | None:
        """What an API answer costs: its prompt and completion tokens at their prices (None unless both
        prices are known: an answer's tokens are never priced at zero)."""
        if self.input_token_usd_per_1m is None or self.output_token_usd_per_1m is None:
            return None
        return (prompt_tokens * self.input_token_usd_per_1m + completion_tokens * self.output_token_usd_per_1m) / 1e6


def approach_name(name: str) -> str:
    """A registered approach (not an `api-` variant: those follow from the plan's `api_model`)."""
    try:
        registry.spec(name)
    except TunewiseError as exc:
        raise ValueError(str(exc)) from None
    if registry.split_api(name)[1]:
        raise ValueError(f"'{name}': list '{registry.split_api(name)[0]}'; its api- variant runs when the plan "
                         "has an api_model")
    return name


class TrainingKnobs(Record):
    """The settings of a training run that a plan may set, once for all tuned approaches or per approach.

    None means the recipe's default for the method (tuning/config.py METHOD_DEFAULTS); only the keys a
    plan sets are passed on, so a per-approach block overrides the shared keys one by one.
    """

    epochs: float | None = Field(default=None, gt=0)
    max_steps: int | None = Field(default=None, gt=0)
    lr: float | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)
    grad_accum: int = Field(default=1, gt=0)
    max_seq_len: int = Field(default=512, ge=16)
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    lora_r: int | None = Field(default=None, gt=0)
    lora_alpha: int | None = Field(default=None, gt=0)
    lora_dropout: float = Field(default=0.0, ge=0, lt=1)  # > 0 keeps a copy of every adapted input: +41% peak (bench)
    packing: bool = False                   # examples end to end in one row: pays with flash-attention only
    gradient_checkpointing: bool = False    # recompute activations: less memory, about a third more time
    target_modules: list[str] | str = "all-linear"
    train_top_layers: int | None = Field(default=None, gt=0)
    num_virtual_tokens: int = Field(default=16, gt=0)
    save_steps: int = Field(default=50, gt=0)
    logging_steps: int = Field(default=5, gt=0)
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"

    def settings(self) -> dict[str, Any]:
        """Only what was set explicitly, to lay over another block."""
        return self.model_dump(exclude_unset=True)


class PlanTuning(TrainingKnobs):
    """A plan's `tuning:` block: shared knobs, plus a block per tuned approach (`tuning.head.lr=5e-3`)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _blocks_are_tuned_approaches(cls, data: Any) -> Any:
        for key in data if isinstance(data, dict) else ():
            if key in cls.model_fields:
                continue
            try:
                spec = registry.spec(key)
            except TunewiseError:
                raise ValueError(f"unknown key '{key}' (neither a tuning setting nor a tuned approach)") from None
            if spec.config is None:
                raise ValueError(f"'{key}' has no settings, so it takes no tuning block")
            if not isinstance(data[key], dict):
                raise ValueError(f"'{key}' must be a mapping of settings")
        return data

    def block(self, name: str):
        """`name`'s own block, validated as its spec's settings record (raises on a bad key or value)."""
        raw = (self.__pydantic_extra__ or {}).get(name) or {}
        return registry.spec(name).config.model_validate(raw)

    def for_approach(self, name: str) -> dict[str, Any]:
        """The shared settings with `name`'s own block over them."""
        shared = {k: v for k, v in self.settings().items() if k not in (self.__pydantic_extra__ or {})}
        return {**shared, **((self.__pydantic_extra__ or {}).get(name) or {})}


class PredictedScore(Record):
    """The pilot's prediction of one approach's main metric at full scale, with its 95% interval."""

    approach: str
    metric: str
    value: float
    low: float
    high: float
    basis: Literal["measured", "curve", "last-point", "flat"]


class Plan(Record):
    """What `advise` writes and `compare` runs; also written by hand."""

    task: Literal["classification", "generation", "qa"]
    train: Path
    eval: Path
    corpus: Path | None = None
    corpus_next: Path | None = None
    eval_next: Path | None = None
    preferences: Path | None = None   # prompt/chosen/rejected pairs, for approaches that need preferences
    model: ModelRef = DEFAULT_GENERATOR
    api_model: ApiModel | None = None
    embedder: str = DEFAULT_EMBEDDER
    approaches: list[str] = Field(min_length=1)
    tuning: PlanTuning = Field(default_factory=PlanTuning)
    limit_eval: int | None = Field(default=None, gt=0)
    seed: int = 0
    recommendation: str | None = None
    reasons: list[str] = Field(default_factory=list)
    prices: Prices = Field(default_factory=Prices)
    predictions: list[PredictedScore] | None = None
    safety: bool = True   # refusal-drift and retrieval-injection probes (eval/safety.py)

    @model_validator(mode="after")
    def _predictions_match_approaches(self) -> "Plan":
        # api-NAME is NAME on the plan's API model, which compare runs beside the local approaches
        known = set(self.approaches) | ({f"api-{a}" for a in self.approaches} if self.api_model else set())
        unknown = [p.approach for p in self.predictions or () if p.approach not in known]
        if unknown:
            raise ValueError(f"predictions name '{unknown[0]}', which is not among the plan's approaches")
        return self

    @field_validator("approaches")
    @classmethod
    def _registered(cls, value: list[str]) -> list[str]:
        return [approach_name(v) for v in value]

    @field_serializer("tuning")
    def _set_keys_only(self, tuning: PlanTuning) -> dict[str, Any]:
        """A plan file carries the settings it sets, not every default."""
        return tuning.model_dump(mode="json", exclude_unset=True)

    @field_validator("recommendation")
    @classmethod
    def _registered_pick(cls, value: str | None) -> str | None:
        return value if value is None else approach_name(value)

    def resolve_paths(self, base: Path) -> "Plan":
        """Paths in a plan file are relative to the plan file's folder."""
        updates = {}
        for key in ("train", "eval", "corpus", "corpus_next", "eval_next", "preferences"):
            value = getattr(self, key)
            if value is not None and not Path(value).is_absolute():
                updates[key] = (base / value).resolve()
        return self.model_copy(update=updates)


class LossPoint(Record):
    step: int
    loss: float
    epoch: float | None = None


class TrainingRun(Record):
    """`run.json` beside a tuning output: enough to reproduce and to cost the run."""

    method: str
    model: str
    output_dir: Path
    config: dict[str, Any]
    data_hash: str
    seed: int
    versions: dict[str, str]
    device: str
    precision: str
    steps: int = 0
    losses: list[LossPoint] = Field(default_factory=list)
    eval_loss_before: float | None = None
    eval_loss_after: float | None = None
    train_seconds: float = 0.0
    peak_memory_mb: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    storage_mb: float | None = None
    labels: list[str] | None = None
    completed: bool = False
