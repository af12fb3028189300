"""The questionnaire as data: each question names its `Answers` key, says why it matters, and parses
and validates a typed answer. The terminal loop (cli/advise.py) and the command's flags both use these,
so a flag, an answers file and an interactive answer are read the same way."""
from __future__ import annotations

import math

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from tunewise.advisor.records import Answers

TRUE_WORDS = ("yes", "y", "true", "1")
FALSE_WORDS = ("no", "n", "false", "0")
NONE_WORDS = ("none", "-", "")


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    why: str
    kind: str                                   # "choice", "int", "float" or "bool"
    choices: tuple[str, ...] = ()
    optional: bool = False                      # "none" is a valid answer (no limit / unknown)
    ask_if: Callable[[dict[str, Any]], bool] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    def parse(self, raw: Any) -> Any:
        """A typed, validated value from text (or a YAML value); ValueError says what is wrong."""
        value = self._convert(raw)
        try:
            Answers.model_validate({self.key: value})
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].lower()) from None
        return value

    def _convert(self, raw: Any) -> Any:
        text = str(raw).strip().lower() if raw is not None else ""
        if self.optional and text in NONE_WORDS:
            return None
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError(f"choose one of {', '.join(self.choices)}")
            return text
        if self.kind == "bool":
            if text in TRUE_WORDS:
                return True
            if text in FALSE_WORDS:
                return False
            raise ValueError("answer yes or no")
        try:
            number = float(text)
        except ValueError:
            none = " (or none)" if self.optional else ""
            raise ValueError(f"expected a number{none}, got '{raw}'") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got '{raw}'")
        if self.kind == "int":
            if number != int(number):
                raise ValueError(f"expected a whole number, got '{raw}'")
            return int(number)
        return number

    def show(self, value: Any) -> str:
        """How a value is written back as a default: parse(show(v)) == v."""
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)


def _is_api(answers: dict[str, Any]) -> bool:
    return str(answers.get("model_access", "")).startswith("api")


def _runs_here(answers: dict[str, Any]) -> bool:
    """Model size and local hardware only matter for weights that run on this machine."""
    return not _is_api(answers)


QUESTIONS: tuple[Question, ...] = (
    Question("task", "What is the task?",
             "Classification can use a cheap classifier head; knowledge questions favour retrieval; "
             "style and format changes favour fine-tuning.",
             "choice", ("classification", "extraction", "generation", "qa", "style")),
    Question("labelled_examples", "How many labelled examples do you have?",
             "A labelled example is one input with its right output: one record (line) of your training "
             "file. A handful fits in a prompt; fine-tuning needs hundreds to learn reliably.", "int"),
    Question("corpus_documents", "How many documents does your corpus folder hold (0 for none)?",
             "A document is one file in the folder of reference texts (.txt, .md, or a record of a .jsonl), "
             "whatever its number of pages. Retrieval searches them; without any it cannot add knowledge.",
             "int"),
    Question("preference_pairs", "How many preference pairs (a prompt with a better and a worse reply) do you have?",
             "Pairs teach a behaviour or tone by preference (DPO); without them only examples can.", "int"),
    Question("knowledge_changes", "How often does the knowledge the task needs change?",
             "Retrieval picks up changes by re-indexing; fine-tuned weights must be retrained.",
             "choice", ("never", "yearly", "monthly", "weekly", "daily")),
    Question("long_tail", "Are the facts obscure (long-tail entities rather than popular ones)?",
             "Models recall popular facts but not rare ones; rare facts must be retrieved.", "bool"),
    Question("model_access", "How do you reach the model?",
             "Only weights you hold can be fine-tuned locally; an API model is limited to prompting "
             "and retrieval unless the provider offers fine-tuning.",
             "choice", ("open-weights", "hub", "api-only", "api-finetune")),
    Question("model_params_b", "How large is the model, in billions of parameters?",
             "Size sets the memory and time every approach needs (SmolLM2-135M is 0.135).", "float",
             ask_if=_runs_here),
    Question("gpu_memory_gb", "GPU memory available, in GB (0 for no GPU)?",
             "Decides which fine-tuning methods fit; QLoRA needs a CUDA GPU.", "float", ask_if=_runs_here),
    Question("ram_gb", "System memory (RAM), in GB?",
             "Without a GPU, training and inference must fit in RAM.", "float", ask_if=_runs_here),
    Question("budget_usd", "Budget for training, in USD (none for no limit)?",
             "Approaches whose estimated cost exceeds it are ruled out.", "float", optional=True),
    Question("gpu_hour_usd", "Price of one GPU-hour, in USD (none if unknown)?",
             "Turns estimated training hours into money.", "float", optional=True,
             ask_if=lambda a: _runs_here(a) and float(a.get("gpu_memory_gb") or 0) > 0),
    Question("token_usd_per_1m", "API price per million tokens, in USD (none if unknown)?",
             "Turns the extra prompt tokens of few-shot and retrieval into cost per query.", "float",
             optional=True, ask_if=_is_api),
    Question("latency_ms", "Latency limit per query, in milliseconds (none for no limit)?",
             "Few-shot and retrieval lengthen every prompt; a tuned model answers with a short one.",
             "float", optional=True),
    Question("cost_per_query_usd", "Cost limit per query, in USD (none for no limit)?",
             "Long prompts cost money on every query.", "float", optional=True, ask_if=_is_api),
    Question("data_may_leave", "May the data leave your premises (be sent to an outside API)?",
             "If not, API models are ruled out and everything must run locally.", "bool"),
)
BY_KEY = {q.key: q for q in QUESTIONS}


def applicable(answers: dict[str, Any]) -> list[Question]:
    """The questions that apply given the answers (and defaults) so far, in order."""
    return [q for q in QUESTIONS if q.ask_if is None or q.ask_if(answers)]


def parse_answers(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Validate answers given as flags or YAML values, one key at a time, naming the key at fault."""
    from tunewise.core.errors import ConfigError

    out: dict[str, Any] = {}
    for key, raw in values.items():
        question = BY_KEY.get(key)
        if question is None:
            raise ConfigError(f"{source}: unknown key '{key}'; expected one of {', '.join(BY_KEY)}")
        try:
            out[key] = question.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: key '{key}': {exc}") from None
    return out


def answers_path() -> Path:
    """Where the questionnaire keeps its answers between runs, for resuming and editing."""
    from tunewise.core.files import app_home

    return app_home() / "answers.yaml"


def read_answers_file(path: str | Path) -> dict[str, Any]:
    """An answers YAML (the questionnaire's own file or one written by hand), validated key by key."""
    from tunewise.core.config import read_yaml

    return parse_answers(read_yaml(path), str(path))


def saved_answers() -> dict[str, Any]:
    path = answers_path()
    return read_answers_file(path) if path.exists() else {}


def save_answers(values: dict[str, Any]) -> Path:
    """Atomically, so an interrupted questionnaire never leaves a half-written file."""
    import yaml

    from tunewise.core.files import atomic_write_text

    return atomic_write_text(answers_path(), yaml.safe_dump(values, sort_keys=False))
