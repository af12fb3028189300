"""The user's data in a provider's fine-tuning JSONL: OpenAI chat, Alpaca or ShareGPT, validated against
each format's published rules, with token counts and a cost estimate. Nothing is sent anywhere.

Rules checked (one `DataError` naming the output line for the first violation):
- openai-chat (OpenAI's fine-tuning guide and its "data preparation and analysis" cookbook): every line
  is `{"messages": [...]}`; each message has `role` and `content` and no other key than `name`/`weight`;
  roles are system, user, assistant; content is non-empty text; at least one assistant message; the
  example fits the per-example token limit.
- alpaca (tatsu-lab/stanford_alpaca): `instruction`, `input`, `output` text; instruction and output
  non-empty; one turn only.
- sharegpt (the `conversations` / `from` / `value` layout Axolotl and LLaMA-Factory read): an optional
  system turn, then human and gpt turns alternating, starting with human and ending with gpt.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from pydantic import Field

from tunewise.core.data import Example, load_dataset
from tunewise.core.errors import DataError, OutputExistsError
from tunewise.core.files import atomic_write_text
from tunewise.core.schema import Record

ExportFormat = Literal["openai-chat", "alpaca", "sharegpt"]
EXPORT_FORMATS = ("openai-chat", "alpaca", "sharegpt")
OPENAI_ROLES = ("system", "user", "assistant")
OPENAI_MESSAGE_KEYS = {"role", "content", "name", "weight"}
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}
# OpenAI's cookbook checks examples against 16,385 tokens (the gpt-3.5-turbo context); newer models allow
# more, so the limit is an option.
DEFAULT_MAX_TOKENS = 16_385
OPENAI_MIN_EXAMPLES = 10
CHARS_PER_TOKEN = 4
Row = dict[str, Any]
CountTokens = Callable[[list[dict[str, str]]], int]


class ExportSummary(Record):
    """What `export-data` wrote: counts, token statistics and the estimated training cost."""

    path: Path
    format: ExportFormat
    examples: int
    tokens_total: int
    tokens_mean: float
    tokens_max: int
    token_counter: str
    max_tokens_per_example: int
    epochs: int = Field(gt=0)
    trained_tokens: int
    usd_per_1m_tokens: float | None = None
    estimated_usd: float | None = None
    warnings: list[str] = Field(default_factory=list)


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """chars/4 plus a few tokens of framing per message: a provider-neutral estimate without its tokenizer."""
    return sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN + 4 * len(messages) + 2


def conversation(example: Example, system: str | None) -> list[dict[str, str]]:
    return example.prompt_messages(system) + [{"role": "assistant", "content": example.response}]


def to_row(fmt: str, example: Example, system: str | None, source: Path) -> Row:
    messages = conversation(example, system)
    if fmt == "openai-chat":
        return {"messages": messages}
    if fmt == "sharegpt":
        return {"conversations": [{"from": SHAREGPT_ROLES.get(m["role"], m["role"]), "value": m["content"]}
                                  for m in messages]}
    turns = [m for m in messages if m["role"] != "system"]
    if len(turns) != 2:
        raise DataError(source, f"alpaca holds one question and one answer, this record has {len(turns)} "
                                "turns; use openai-chat or sharegpt", example.line)
    lead = next((m["content"] for m in messages if m["role"] == "system"), None)
    instruction, extra = (lead, turns[0]["content"]) if lead else (turns[0]["content"], example.context or "")
    return {"instruction": instruction, "input": extra, "output": example.response}


def row_messages(fmt: str, row: Row) -> list[dict[str, str]]:
    """A written row back as role/content messages, for token counting."""
    if fmt == "openai-chat":
        return row["messages"]
    if fmt == "sharegpt":
        back = {v: k for k, v in SHAREGPT_ROLES.items()}
        return [{"role": back.get(t["from"], t["from"]), "content": t["value"]} for t in row["conversations"]]
    user = row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")
    return [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]


def problem(fmt: str, row: Any) -> str | None:
    """The first way `row` breaks the format's published rules, or None."""
    if not isinstance(row, dict):
        return "each line must be a JSON object"
    return {"openai-chat": _openai_problem, "alpaca": _alpaca_problem, "sharegpt": _sharegpt_problem}[fmt](row)


def _openai_problem(row: Row) -> str | None:
    if set(row) != {"messages"} or not isinstance(row["messages"], list) or not row["messages"]:
        return "each line must be {\"messages\": [...]} with a non-empty list"
    for i, message in enumerate(row["messages"]):
        if not isinstance(message, dict) or not {"role", "content"} <= set(message):
            return f"messages[{i}] needs 'role' and 'content'"
        if set(message) - OPENAI_MESSAGE_KEYS:
            return f"messages[{i}] has unrecognised key '{sorted(set(message) - OPENAI_MESSAGE_KEYS)[0]}'"
        if message["role"] not in OPENAI_ROLES:
            return f"messages[{i}] has role '{message['role']}'; allowed: {', '.join(OPENAI_ROLES)}"
        if not isinstance(message["content"], str) or not message["content"].strip():
            return f"messages[{i}] ({message['role']}) has empty content"
    if not any(m["role"] == "assistant" for m in row["messages"]):
        return "an example needs at least one assistant message"
    return None


def _alpaca_problem(row: Row) -> str | None:
    if set(row) != {"instruction", "input", "output"}:
        return "each line must have exactly 'instruction', 'input' and 'output'"
    if not all(isinstance(row[k], str) for k in row):
        return "instruction, input and output must be text"
    empty = next((k for k in ("instruction", "output") if not row[k].strip()), None)
    return f"'{empty}' is empty" if empty else None


def _sharegpt_problem(row: Row) -> str | None:
    turns = row.get("conversations")
    if set(row) != {"conversations"} or not isinstance(turns, list) or not turns:
        return "each line must be {\"conversations\": [...]} with a non-empty list"
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or set(turn) != {"from", "value"}:
            return f"conversations[{i}] must have exactly 'from' and 'value'"
        if not isinstance(turn["value"], str) or not turn["value"].strip():
            return f"conversations[{i}] ({turn['from']}) has an empty value"
    body = turns[1:] if turns[0]["from"] == "system" else turns
    expected = ["human" if i % 2 == 0 else "gpt" for i in range(len(body))]
    if [t["from"] for t in body] != expected or not body or body[-1]["from"] != "gpt":
        return "after an optional system turn, turns must alternate human, gpt, ... and end with gpt"
    return None


def model_token_counter(ref: str) -> tuple[CountTokens, str]:
    """Exact counts with a local model's tokenizer and chat template (the provider's own may differ)."""
    from tunewise.core.models import load_tokenizer

    tokenizer = load_tokenizer(ref)

    def count(messages: list[dict[str, str]]) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count, f"tokenizer of {ref}"


def validate_rows(fmt: str, rows: Sequence[Any], count_tokens: CountTokens, max_tokens: int,
                  where: str | Path, lines: Sequence[int] | None = None) -> list[int]:
    """Every row against the format's rules and the token limit; returns each row's token count.
    Errors name `where` and the row's line there (`lines`, default 1, 2, ...)."""
    counts = []
    for line, row in zip(lines or range(1, len(rows) + 1), rows):
        found = problem(fmt, row)
        if found:
            raise DataError(where, f"{fmt}: {found}", line)
        tokens = count_tokens(row_messages(fmt, row))
        if tokens > max_tokens:
            raise DataError(where, f"{fmt}: the example is {tokens} tokens, over the limit of {max_tokens} per "
                                   "example; shorten it or raise --max-tokens", line)
        counts.append(tokens)
    return counts


def validate_file(path: str | Path, fmt: str, count_tokens: CountTokens = estimate_tokens,
                  max_tokens: int = DEFAULT_MAX_TOKENS) -> list[int]:
    """An exported JSONL file against the format's rules (what a provider's upload check does first)."""
    path = Path(path)
    rows = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            rows.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise DataError(path, f"broken JSON ({exc.msg})", line) from None
    return validate_rows(fmt, rows, count_tokens, max_tokens, path)


def export_data(source: str | Path, out: str | Path, fmt: str, *, system: str | None = None,
                count_tokens: CountTokens | None = None, counter_name: str | None = None,
                max_tokens: int = DEFAULT_MAX_TOKENS, epochs: int = 3, usd_per_1m_tokens: float | None = None,
                force: bool = False, data_format: str | None = None) -> ExportSummary:
    """Convert `source`, validate every row, then write `out` atomically; an existing file needs `force`."""
    out = Path(out)
    if out.exists() and not force:
        raise OutputExistsError(out)
    data = load_dataset(source, data_format)
    rows = [to_row(fmt, e, system, data.path) for e in data.examples]
    counts = validate_rows(fmt, rows, count_tokens or estimate_tokens, max_tokens, data.path,
                           [e.line for e in data.examples])
    atomic_write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    total = sum(counts)
    warnings = []
    if fmt == "openai-chat" and len(rows) < OPENAI_MIN_EXAMPLES:
        warnings.append(f"OpenAI requires at least {OPENAI_MIN_EXAMPLES} examples; this file has {len(rows)}")
    return ExportSummary(
        path=out, format=fmt, examples=len(rows), tokens_total=total, tokens_mean=round(total / len(rows), 1),
        tokens_max=max(counts), token_counter=counter_name or "estimate: chars/4 + 4 per message",
        max_tokens_per_example=max_tokens, epochs=epochs, trained_tokens=total * epochs,
        usd_per_1m_tokens=usd_per_1m_tokens,
        estimated_usd=round(total * epochs * usd_per_1m_tokens / 1e6, 4) if usd_per_1m_tokens is not None else None,
        warnings=warnings,
    )
