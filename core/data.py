"""Dataset and corpus formats: detection, validation, and one normalised `Example` shape.

Every problem is a `DataError` naming the file, the line (or record) and what is wrong.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tunewise.core.errors import DataError
from tunewise.core.reading import (
    SNIFF_BYTES, ReadPolicy, decode, deep_nesting_line, limit_bytes, looks_binary, read_capped, text_lines,
)

# format -> (required fields, optional fields); detection tries them in this order.
SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (("messages",), ()),
    "alpaca": (("instruction", "output"), ("input",)),
    "prompt-completion": (("prompt", "completion"), ()),
    "qa": (("question", "answer"), ("context", "source")),
    "classification": (("text", "label"), ()),
}
FORMATS = tuple(SHAPES)
DATA_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
CORPUS_SUFFIXES = (".txt", ".md", ".markdown", ".jsonl")
CHAT_ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Example:
    """One training or evaluation example, whatever file shape it came from."""

    id: str
    line: int
    prompt: str
    response: str
    label: str | None = None
    messages: tuple[dict[str, str], ...] | None = None
    context: str | None = None
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def prompt_messages(self, system: str | None = None) -> list[dict[str, str]]:
        """The conversation up to (not including) the response, ready for a chat template."""
        if self.messages is not None:
            head = [dict(m) for m in self.messages[:-1]]
        else:
            head = [{"role": "user", "content": self.prompt}]
        if system and not (head and head[0]["role"] == "system"):
            head.insert(0, {"role": "system", "content": system})
        return head


@dataclass(frozen=True)
class Dataset:
    path: Path
    format: str
    examples: tuple[Example, ...]

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels (classification only)."""
        return sorted({e.label for e in self.examples if e.label is not None})


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


def load_dataset(path: str | Path, format: str | None = None) -> Dataset:
    """Read a JSONL, JSON or CSV dataset, detect (or check) its shape, and normalise every record."""
    path = Path(path)
    if format is not None and format not in SHAPES:
        raise DataError(path, f"unknown format '{format}'; choose one of {', '.join(FORMATS)}")
    rows = list(_parse_rows(path))
    if not rows:
        raise DataError(path, "no records found (the file holds only blank lines)")
    shape = format or _detect_shape(path, *rows[0])
    examples = tuple(_to_example(path, shape, line, row) for line, row in rows)
    _check_unique_ids(path, examples)
    return Dataset(path=path, format=shape, examples=examples)


def read_text_file(path: Path, what: str = "file") -> str:
    """UTF-8 text of a regular file within the size limit, refusing empty, binary and non-UTF-8 files."""
    raw = read_capped(path, what=what)
    if not raw.strip():
        raise DataError(path, "file is empty")
    if looks_binary(raw[:SNIFF_BYTES]):
        raise DataError(path, "looks like a binary file, not text")
    return decode(path, raw)


def _parse_rows(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    kind = DATA_SUFFIXES.get(path.suffix.lower())
    if kind == "jsonl":
        return parse_jsonl(path, text_lines(path))  # streamed: memory bounded by the record limit
    text = read_text_file(path)
    if kind is None:
        first = text.lstrip()[:1]
        kind = {"[": "json", "{": "jsonl"}.get(first)
        if kind is None:
            raise DataError(path, f"unsupported file type '{path.suffix}'; use .jsonl, .json or .csv")
    if kind == "jsonl":
        return parse_jsonl(path, enumerate(text.split("\n"), start=1))
    if kind == "json":
        return _parse_json(path, text)
    return _parse_csv(path, text)


def parse_jsonl(path: Path, lines: Iterable[tuple[int, str]]) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in lines:
        if not line.strip():
            continue
        row = parse_json_text(path, line, number)
        if not isinstance(row, dict):
            raise DataError(path, f"expected a JSON object, got {type(row).__name__}", number)
        yield number, row


def parse_json_text(path: Path, text: str, line: int | None = None) -> Any:
    """`json.loads`, with broken or absurdly nested JSON reported by file and line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"broken JSON ({exc.msg} at column {exc.colno})",
                        exc.lineno + (line or 1) - 1) from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to read; flatten the record",
                        line or deep_nesting_line(text)) from None


def _parse_json(path: Path, text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    data = parse_json_text(path, text)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DataError(path, "expected a JSON array of records (or {\"data\": [...]})")
    for number, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise DataError(path, f"record {number}: expected a JSON object, got {type(row).__name__}")
        yield number, row


def _parse_csv(path: Path, text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    csv.field_size_limit(limit_bytes("record"))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if not header or any(not (name or "").strip() for name in header):
        raise DataError(path, "the first line must be a header naming every column", 1)
    try:
        for row in reader:
            if None in row:
                raise DataError(path, f"expected {len(header)} columns, found more", reader.line_num)
            if any(value is None for value in row.values()):
                raise DataError(path, f"expected {len(header)} columns, found fewer", reader.line_num)
            if not any(value.strip() for value in row.values()):
                continue
            yield reader.line_num, {key.strip(): value for key, value in row.items()}
    except csv.Error as exc:
        raise DataError(path, f"broken CSV ({exc})", reader.line_num) from None


def _detect_shape(path: Path, line: int, row: dict[str, Any]) -> str:
    for shape, (required, _) in SHAPES.items():
        if all(key in row for key in required):
            return shape
    expected = "; ".join(f"{'+'.join(req)} ({name})" for name, (req, _) in SHAPES.items())
    fields = ", ".join(sorted(row)) or "none"
    raise DataError(path, f"cannot tell the format from fields {fields}; expected one of: {expected}", line)


def _field(path: Path, line: int, row: dict[str, Any], key: str, optional: bool = False) -> str | None:
    value = row.get(key)
    if value is None:
        if optional:
            return None
        raise DataError(path, f"field '{key}' is missing or null", line)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DataError(path, f"field '{key}' must be text, got {type(value).__name__}", line)
    return str(value)


def _to_example(path: Path, shape: str, line: int, row: dict[str, Any]) -> Example:
    required, _ = SHAPES[shape]
    missing = [key for key in required if key not in row]
    if missing:
        other = next((name for name, (req, _) in SHAPES.items() if all(k in row for k in req)), None)
        hint = f"; this record looks like {other}, mixed formats in one file" if other else ""
        raise DataError(
            path, f"missing field '{missing[0]}' ({shape} records need {', '.join(required)}){hint}", line
        )
    rid = _field(path, line, row, "id", optional=True) or f"{path.stem}-{line}"
    meta = {k: v for k, v in row.items() if k not in required and k not in ("id",)}
    if shape == "chat":
        messages = _messages(path, line, row["messages"])
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        return Example(rid, line, last_user, messages[-1]["content"], messages=messages, meta=meta)
    if shape == "alpaca":
        instruction = _field(path, line, row, "instruction")
        extra = _field(path, line, row, "input", optional=True)
        prompt = f"{instruction}\n\n{extra}" if extra else instruction
        return Example(rid, line, prompt, _field(path, line, row, "output"), meta=meta)
    if shape == "prompt-completion":
        return Example(rid, line, _field(path, line, row, "prompt"), _field(path, line, row, "completion"), meta=meta)
    if shape == "qa":
        return Example(
            rid, line, _field(path, line, row, "question"), _field(path, line, row, "answer"),
            context=_field(path, line, row, "context", optional=True),
            source=_field(path, line, row, "source", optional=True), meta=meta,
        )
    label = _field(path, line, row, "label")
    if not label.strip():
        raise DataError(path, "field 'label' is empty", line)
    return Example(rid, line, _field(path, line, row, "text"), label, label=label, meta=meta)


def _messages(path: Path, line: int, value: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise DataError(path, "field 'messages' must be a non-empty list of {role, content}", line)
    out = []
    for index, message in enumerate(value):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise DataError(path, f"messages[{index}] must have 'role' and 'content'", line)
        if message["role"] not in CHAT_ROLES:
            raise DataError(path, f"messages[{index}] has unknown role '{message['role']}'", line)
        if not isinstance(message["content"], str):
            raise DataError(path, f"messages[{index}].content must be text", line)
        out.append({"role": message["role"], "content": message["content"]})
    if out[-1]["role"] != "assistant":
        raise DataError(path, "the last message must be the assistant's answer", line)
    return tuple(out)


def _check_unique_ids(path: Path, examples: tuple[Example, ...]) -> None:
    seen: dict[str, int] = {}
    for example in examples:
        if example.id in seen:
            raise DataError(path, f"duplicate id '{example.id}' (first on line {seen[example.id]})", example.line)
        seen[example.id] = example.line


def check_eval_labels(train: Dataset, evaluation: Dataset) -> None:
    """Every label the eval set uses must have been seen in training, or no model can predict it."""
    known = set(train.labels)
    for example in evaluation.examples:
        if example.label is not None and example.label not in known:
            raise DataError(
                evaluation.path, f"label '{example.label}' never appears in the training set {train.path}", example.line
            )


def load_corpus(folder: str | Path, policy: ReadPolicy = ReadPolicy()) -> list[Document]:
    """Every document under the corpus `folder`, read under `policy` (see `core.corpus.read_corpus`)."""
    from tunewise.core.corpus import read_corpus

    return read_corpus(folder, policy)


def check_unique_doc_ids(folder: Path, documents: list[Document]) -> None:
    seen: set[str] = set()
    for doc in documents:
        if doc.id in seen:
            raise DataError(doc.path, f"duplicate document id '{doc.id}' in corpus {folder}")
        seen.add(doc.id)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
