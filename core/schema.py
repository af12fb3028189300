"""Typed records shared across packages. Each validates itself and round-trips to JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tunewise.core.errors import ConfigError
from tunewise.core.files import atomic_write_text
from tunewise.core.reading import read_capped

TASKS = ("classification", "extraction", "generation", "qa", "style")
APPROACHES = (
    "zero-shot", "few-shot", "rag", "lora", "qlora", "full", "prompt-tuning", "head", "rag+lora",
)
TUNING_APPROACHES = ("lora", "qlora", "full", "prompt-tuning", "head", "rag+lora")

Task = Literal["classification", "extraction", "generation", "qa", "style"]
Approach = Literal[
    "zero-shot", "few-shot", "rag", "lora", "qlora", "full", "prompt-tuning", "head", "rag+lora"
]


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


class Plan(Record):
    """What `advise` writes and `compare` runs; also written by hand."""

    task: Literal["classification", "generation", "qa"]
    train: Path
    eval: Path
    corpus: Path | None = None
    corpus_next: Path | None = None
    eval_next: Path | None = None
    model: ModelRef = "smollm2-135m-instruct"
    api_model: ApiModel | None = None
    embedder: str = "minilm-l6"
    approaches: list[Approach] = Field(min_length=1)
    tuning: dict[str, Any] = Field(default_factory=dict)
    limit_eval: int | None = Field(default=None, gt=0)
    seed: int = 0
    recommendation: Approach | None = None
    reasons: list[str] = Field(default_factory=list)
    prices: Prices = Field(default_factory=Prices)

    def resolve_paths(self, base: Path) -> "Plan":
        """Paths in a plan file are relative to the plan file's folder."""
        updates = {}
        for key in ("train", "eval", "corpus", "corpus_next", "eval_next"):
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
