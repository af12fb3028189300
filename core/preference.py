"""Preference pairs (for DPO): `prompt`, `chosen`, `rejected` as text, or in TRL's conversational form
(`prompt` a list of messages, `chosen`/`rejected` one assistant message each), or as two full chats
(`chosen` and `rejected` message lists sharing everything but the last assistant turn).

Every bad row is one `DataError` naming the file and the line: a missing or empty field, chosen equal
to rejected, or (checked by `check_prompt_lengths` once a tokenizer is known) a prompt that fills the
model's context.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from tunewise.core.data import CHAT_ROLES, _parse_rows
from tunewise.core.errors import DataError

PREFERENCE_FORMAT = "preference"
Conversation = list[dict[str, str]]


@dataclass(frozen=True)
class PreferencePair:
    """One prompt with a preferred and a dispreferred assistant reply."""

    id: str
    line: int
    prompt: tuple[dict[str, str], ...]      # the conversation before the reply (no system turn unless given)
    chosen: str
    rejected: str

    def prompt_messages(self, system: str | None = None) -> Conversation:
        """The prompt turns, led by `system` unless the pair brings its own system turn."""
        head = [dict(m) for m in self.prompt]
        own_system = bool(head) and head[0]["role"] == "system"
        return head if own_system or not system else [{"role": "system", "content": system}, *head]


@dataclass(frozen=True)
class PreferenceSet:
    path: Path
    pairs: tuple[PreferencePair, ...]
    format: str = PREFERENCE_FORMAT

    def __len__(self) -> int:
        return len(self.pairs)


def is_preference_row(row: dict[str, Any]) -> bool:
    return "chosen" in row and "rejected" in row


def load_preferences(path: str | Path) -> PreferenceSet:
    """Read a JSONL/JSON/CSV file of preference pairs; the first bad row is the error."""
    path = Path(path)
    rows = list(_parse_rows(path))
    if not rows:
        raise DataError(path, "no records found (the file holds only blank lines)")
    pairs = tuple(_to_pair(path, line, row) for line, row in rows)
    seen: dict[str, int] = {}
    for pair in pairs:
        if pair.id in seen:
            raise DataError(path, f"duplicate id '{pair.id}' (first on line {seen[pair.id]})", pair.line)
        seen[pair.id] = pair.line
    return PreferenceSet(path, pairs)


def _to_pair(path: Path, line: int, row: dict[str, Any]) -> PreferencePair:
    for key in ("chosen", "rejected"):
        if row.get(key) is None:
            raise DataError(path, f"missing field '{key}' (preference records need prompt, chosen, rejected)", line)
    rid = str(row["id"]) if row.get("id") is not None else f"{path.stem}-{line}"
    if "prompt" in row:
        prompt = _prompt_turns(path, line, row["prompt"])
        chosen, rejected = _reply(path, line, row, "chosen"), _reply(path, line, row, "rejected")
    else:
        prompt, chosen, rejected = _split_chats(path, line, row)
    if not chosen.strip() or not rejected.strip():
        empty = "chosen" if not chosen.strip() else "rejected"
        raise DataError(path, f"field '{empty}' is empty", line)
    if chosen.strip() == rejected.strip():
        raise DataError(path, "chosen and rejected are the same reply; a pair must prefer one over another", line)
    return PreferencePair(rid, line, prompt, chosen, rejected)


def _prompt_turns(path: Path, line: int, value: Any) -> tuple[dict[str, str], ...]:
    if isinstance(value, str):
        if not value.strip():
            raise DataError(path, "field 'prompt' is empty", line)
        return ({"role": "user", "content": value},)
    turns = _messages(path, line, value, "prompt")
    if turns[-1]["role"] != "user":
        raise DataError(path, "the prompt's last message must be the user's", line)
    return turns


def _reply(path: Path, line: int, row: dict[str, Any], key: str) -> str:
    value = row[key]
    if isinstance(value, str):
        return value
    turns = _messages(path, line, value, key)
    if len(turns) != 1 or turns[0]["role"] != "assistant":
        raise DataError(path, f"field '{key}' must be text or one assistant message", line)
    return turns[0]["content"]


def _split_chats(path: Path, line: int, row: dict[str, Any]) -> tuple[tuple[dict[str, str], ...], str, str]:
    """Two full chats: the shared turns are the prompt, the last assistant turn of each is the reply."""
    chosen, rejected = _messages(path, line, row["chosen"], "chosen"), _messages(path, line, row["rejected"], "rejected")
    for key, turns in (("chosen", chosen), ("rejected", rejected)):
        if len(turns) < 2 or turns[-1]["role"] != "assistant":
            raise DataError(path, f"field '{key}' must end with the assistant's reply after a user turn "
                                  "(or give a 'prompt' field)", line)
    if chosen[:-1] != rejected[:-1]:
        raise DataError(path, "chosen and rejected chats must share every turn before the last reply", line)
    return chosen[:-1], chosen[-1]["content"], rejected[-1]["content"]


def _messages(path: Path, line: int, value: Any, key: str) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise DataError(path, f"field '{key}' must be text or a non-empty list of {{role, content}}", line)
    out = []
    for index, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise DataError(path, f"{key}[{index}] must have 'role' and text 'content'", line)
        if message.get("role") not in CHAT_ROLES:
            raise DataError(path, f"{key}[{index}] has unknown role '{message.get('role')}'", line)
        out.append({"role": message["role"], "content": message["content"]})
    return tuple(out)


def check_prompt_lengths(data: PreferenceSet, count_tokens: Callable[[Conversation], int], limit: int,
                         system: str | None = None) -> None:
    """A prompt that leaves no room for a reply in `limit` tokens cannot teach a preference."""
    for pair in data.pairs:
        tokens = count_tokens(pair.prompt_messages(system))
        if tokens >= limit:
            raise DataError(data.path, f"the prompt is {tokens} tokens, longer than the model's context of "
                                       f"{limit} tokens; shorten it or drop the row", pair.line)


def split_pairs(data: PreferenceSet, held_out: float, seed: int) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, held-out) by a seeded shuffle; at least one pair on each side when there are two or more."""
    import random

    pairs = list(data.pairs)
    random.Random(seed).shuffle(pairs)
    n = min(max(1, round(len(pairs) * held_out)), len(pairs) - 1) if len(pairs) > 1 else 0
    return pairs[n:], pairs[:n]


def as_trl_rows(pairs: Sequence[PreferencePair], system: str | None = None) -> list[dict[str, Any]]:
    """TRL's conversational preference rows: the chat template renders them exactly as evaluation does."""
    return [{"prompt": p.prompt_messages(system), "chosen": [{"role": "assistant", "content": p.chosen}],
             "rejected": [{"role": "assistant", "content": p.rejected}]} for p in pairs]
