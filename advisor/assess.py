"""The data profile: what the training, evaluation and corpus files show, measured (no model loaded).

Tokens are counted with the model's own `tokenizer.json` through the `tokenizers` library (no torch),
falling back to transformers' tokenizer, and to a chars/4 estimate (labelled as such) with `fast` or
when no tokenizer is available. Near duplicates: character-trigram count vectors with cosine >= 0.9
(no IDF: a rare extra word must not make a copy look new).
"""
from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

from tunewise.core.defaults import CHUNK_OVERLAP, CHUNK_TOKENS, DEFAULT_EMBEDDER
from tunewise.advisor.records import CorpusProfile, DataProfile, TokenStats
from tunewise.core.data import Dataset, Example, load_corpus, load_dataset, text_sha256
from tunewise.core.errors import ModelError
from tunewise.core.reading import ReadPolicy

NEAR_THRESHOLD = 0.9
NEAR_MAX_RECORDS = 20000        # pairwise similarity is quadratic; larger sets are checked on a prefix
NEAR_BLOCK_ROWS = 256           # rows of similarities held at once (at most 256 x 20,000 entries)
IMBALANCE_WARN = 3.0
CHUNK_STRIDE = CHUNK_TOKENS - CHUNK_OVERLAP
CHANGED_WARN = 0.1
DATE = re.compile(r"\b((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")
VERSION = re.compile(r"\b(?:v|version\s*)(\d+(?:\.\d+)+)\b", re.IGNORECASE)
Counter = Callable[[list[str]], list[int]]


def estimate_counter(texts: list[str]) -> list[int]:
    return [math.ceil(len(t) / 4) for t in texts]


def token_counter(model: str | None, fast: bool = False) -> tuple[Counter, str]:
    """(count function, description): the model's tokenizer, or the chars/4 estimate."""
    if fast or model is None:
        return estimate_counter, "estimate (chars/4)"
    from tunewise.core.models import model_dir

    try:
        folder = Path(model_dir(model))
    except ModelError:
        return estimate_counter, "estimate (chars/4; tokenizer unavailable)"
    if (folder / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_truncation()  # the embedder's file truncates at 128; we want true lengths
        tokenizer.no_padding()
        return (lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)],
                f"tokenizer:{model}")
    from tunewise.core.models import load_tokenizer

    slow = load_tokenizer(model)
    return (lambda texts: [len(ids) for ids in slow(texts, add_special_tokens=False)["input_ids"]],
            f"tokenizer:{model}")


def token_stats(lengths: Sequence[int], method: str) -> TokenStats:
    ordered = sorted(lengths) or [0]
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return TokenStats(method=method, total=sum(ordered), mean=round(sum(ordered) / len(ordered), 1),
                      p50=pick(0.5), p95=pick(0.95), max=ordered[-1])


def example_input(example: Example) -> str:
    if example.messages is not None:
        return "\n".join(m["content"] for m in example.messages[:-1])
    return example.prompt


def example_text(example: Example) -> str:
    return f"{example_input(example)}\n{example.response}"


def normalise(text: str) -> str:
    """Case, punctuation and spacing do not make a different example."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def near_records(texts: list[str], others: list[str] | None = None) -> set[int]:
    """Indices of `texts` with a near-identical partner (cosine >= NEAR_THRESHOLD over character
    trigrams): an earlier record of `texts` that is not the same text, or any record of `others`.

    Memory stays bounded whatever the data: similarities are computed NEAR_BLOCK_ROWS rows at a time and
    only the qualifying row numbers are kept (templated data where every record is near every other
    once grew a set of 200 million pairs here: 18 GB for 40,000 records)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = texts[:NEAR_MAX_RECORDS]
    others = others[:NEAR_MAX_RECORDS] if others is not None else None
    try:
        vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), use_idf=False).fit(texts + (others or []))
    except ValueError:  # nothing but empty or one-letter texts: no trigrams to compare
        return set()
    left = vectors.transform(texts)
    right = vectors.transform(others) if others is not None else left
    same_text = np.unique(np.array(texts, dtype=object), return_inverse=True)[1]
    found: set[int] = set()
    for start in range(0, left.shape[0], NEAR_BLOCK_ROWS):
        sims = (left[start:start + NEAR_BLOCK_ROWS] @ right.T).tocoo()
        close = sims.data >= NEAR_THRESHOLD
        rows, cols = sims.row[close] + start, sims.col[close]
        if others is None:  # within one set: an earlier partner with other text
            rows = rows[(cols < rows) & (same_text[rows] != same_text[cols])]
        found.update(np.unique(rows).tolist())
    return found


def _duplicates(train: Dataset) -> tuple[int, int, int]:
    """(exact duplicates, near duplicates, same input with different labels), counted per extra record."""
    keys = [normalise(example_text(e)) for e in train.examples]
    seen: set[str] = set()
    exact = sum(1 for k in keys if k in seen or seen.add(k))
    near = near_records(keys)
    labels: dict[str, set[str]] = {}
    for e in train.examples:
        if e.label is not None:
            labels.setdefault(normalise(example_input(e)), set()).add(e.label)
    conflicts = sum(1 for found in labels.values() if len(found) > 1)
    return exact, len(near), conflicts


def _leakage(train: Dataset, evaluation: Dataset) -> tuple[int, int]:
    """Eval records whose input appears in training: exactly (after normalising) or nearly."""
    train_inputs = [normalise(example_input(e)) for e in train.examples]
    eval_inputs = [normalise(example_input(e)) for e in evaluation.examples]
    known = set(train_inputs)
    exact = {i for i, text in enumerate(eval_inputs) if text in known}
    near = near_records(eval_inputs, train_inputs) - exact
    return len(exact), len(near)


def _volatility(examples: Sequence[Example]) -> tuple[int, int | None, int]:
    """(records carrying a date, days between the first and last date, distinct version strings)."""
    dates: list[date] = []
    dated = 0
    versions: set[str] = set()
    for example in examples:
        blob = example_text(example) + " " + " ".join(str(v) for v in example.meta.values())
        found = [date(int(y), int(m), int(d)) for y, m, d in DATE.findall(blob) if _valid(y, m, d)]
        dated += bool(found)
        dates.extend(found)
        versions.update(VERSION.findall(blob))
    span = (max(dates) - min(dates)).days if dates else None
    return dated, span, len(versions)


def _valid(y: str, m: str, d: str) -> bool:
    try:
        date(int(y), int(m), int(d))
    except ValueError:
        return False
    return True


def profile_dataset(path: str | Path, eval_path: str | Path | None = None, model: str | None = None,
                    fast: bool = False, max_seq_len: int = 512, format: str | None = None) -> DataProfile:
    """Measure a dataset (and its eval set's overlap with it) without loading a model."""
    train = load_dataset(path, format)
    count, method = token_counter(model, fast)
    lengths = count([example_text(e) for e in train.examples])
    exact, near, conflicts = _duplicates(train)
    dated, span, versions = _volatility(train.examples)
    profile = DataProfile(
        path=str(path), format=train.format, examples=len(train), tokens=token_stats(lengths, method),
        exact_duplicates=exact, near_duplicates=near, conflicting_labels=conflicts,
        empty_records=sum(1 for e in train.examples if not e.response.strip() or not example_input(e).strip()),
        too_long_records=sum(1 for n in lengths if n > max_seq_len), max_seq_len=max_seq_len,
        dated_records=dated, date_span_days=span, versions_seen=versions,
    )
    if train.format == "classification":
        counts = {label: 0 for label in train.labels}
        for e in train.examples:
            counts[e.label] += 1
        profile.label_counts = counts
        profile.imbalance_ratio = round(max(counts.values()) / min(counts.values()), 2)
    if eval_path is not None:
        evaluation = load_dataset(eval_path, format)
        profile.eval_path, profile.eval_examples = str(eval_path), len(evaluation)
        profile.leaked_exact, profile.leaked_near = _leakage(train, evaluation)
    profile.warnings = data_warnings(profile)
    return profile


def data_warnings(p: DataProfile) -> list[str]:
    """One sentence per problem found, naming the measurement."""
    out = []
    if p.exact_duplicates or p.near_duplicates:
        out.append(f"{p.exact_duplicates} exact and {p.near_duplicates} near-duplicate records: "
                   "they overweight some examples; remove them.")
    if p.conflicting_labels:
        out.append(f"{p.conflicting_labels} inputs appear with different labels.")
    if p.imbalance_ratio is not None and p.imbalance_ratio >= IMBALANCE_WARN:
        out.append(f"Labels are imbalanced: the largest class is {p.imbalance_ratio:g}x the smallest; "
                   "report macro-F1, not accuracy.")
    if p.empty_records:
        out.append(f"{p.empty_records} records have an empty input or output.")
    if p.too_long_records:
        out.append(f"{p.too_long_records} records exceed {p.max_seq_len} tokens and will be truncated.")
    if p.leaked_exact or p.leaked_near:
        out.append(f"Leakage: {p.leaked_exact} eval inputs appear in training exactly and {p.leaked_near} "
                   "nearly; scores on this eval set will be inflated.")
    if p.dated_records and p.date_span_days:
        out.append(f"{p.dated_records} records carry dates spanning {p.date_span_days} days: "
                   "the knowledge may change over time.")
    return out


def profile_corpus(folder: str | Path, previous: str | Path | None = None, model: str | None = DEFAULT_EMBEDDER,
                   fast: bool = False, reading: ReadPolicy = ReadPolicy()) -> CorpusProfile:
    """Measure a corpus (in the embedder's tokens) and, given an older snapshot, how much changed; both
    are read under `reading`."""
    documents = load_corpus(folder, reading)
    count, method = token_counter(model, fast)
    lengths = count([d.text for d in documents])
    hashes = [text_sha256(d.text) for d in documents if d.text.strip()]
    profile = CorpusProfile(
        path=str(folder), documents=len(documents), empty_documents=sum(1 for d in documents if not d.text.strip()),
        exact_duplicates=len(hashes) - len(set(hashes)), tokens=token_stats(lengths, method),
        chunks_estimate=sum(max(1, math.ceil((n - CHUNK_OVERLAP) / CHUNK_STRIDE)) for n in lengths if n),
    )
    if previous is not None:
        old = {d.id: text_sha256(d.text) for d in load_corpus(previous, reading)}
        new = {d.id: text_sha256(d.text) for d in documents}
        profile.previous_path = str(previous)
        profile.added = len(new.keys() - old.keys())
        profile.removed = len(old.keys() - new.keys())
        profile.changed = sum(1 for k in new.keys() & old.keys() if new[k] != old[k])
        total = len(new.keys() | old.keys())
        profile.changed_share = round((profile.added + profile.removed + profile.changed) / total, 3)
    profile.warnings = corpus_warnings(profile)
    return profile


def corpus_warnings(p: CorpusProfile) -> list[str]:
    out = []
    if p.empty_documents:
        out.append(f"{p.empty_documents} documents are empty.")
    if p.exact_duplicates:
        out.append(f"{p.exact_duplicates} documents duplicate another one.")
    if p.changed_share is not None and p.changed_share >= CHANGED_WARN:
        out.append(f"{p.changed_share:.0%} of documents changed since {p.previous_path}: the knowledge is "
                   "volatile, so retrieval (re-indexed) beats fine-tuning (retrained).")
    return out
