"""Reading a corpus folder: documents stay inside it, and nothing unreadable is read whole.

Symlinks that resolve outside the folder are skipped (a link to /etc/passwd must not land in an index)
unless the reading policy allows them (`ReadPolicy(follow_links=True)`, from `tunewise --follow-links`);
special files, binary files and documents over the size limit are skipped too. Every skip is counted
and reported in one warning line.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

from tunewise.core.data import CORPUS_SUFFIXES, Document, _field, check_unique_doc_ids, parse_jsonl
from tunewise.core.errors import DataError
from tunewise.core.reading import (
    SNIFF_BYTES, ReadPolicy, decode, limit_bytes, looks_binary, special_kind, text_lines,
)

log = logging.getLogger("tunewise")
OUTSIDE = "symlink pointing outside the corpus folder"


def read_corpus(folder: str | Path, policy: ReadPolicy = ReadPolicy()) -> list[Document]:
    """Every .txt/.md document (and each `text` record of .jsonl files) under `folder`, sorted by path."""
    folder = Path(folder)
    if not folder.exists():
        raise DataError(folder, "corpus folder not found")
    if not folder.is_dir():
        raise DataError(folder, "is a file; a corpus is a folder of .txt, .md or .jsonl documents")
    skipped: Counter[str] = Counter()
    examples: dict[str, str] = {}
    files = corpus_files(folder, policy.follow_links, skipped, examples)
    if not files and not skipped:
        raise DataError(folder, "no .txt, .md or .jsonl documents found")
    documents: list[Document] = []
    for file in files:
        reason = _read_document(folder, file, documents)
        if reason is not None:
            skipped[reason] += 1
            examples.setdefault(reason, file.relative_to(folder).as_posix())
    report_skipped(folder, skipped, examples)
    if not documents:
        raise DataError(folder, "no readable .txt, .md or .jsonl documents found; every one was skipped")
    check_unique_doc_ids(folder, documents)
    return documents


def corpus_files(folder: Path, follow_links: bool, skipped: Counter, examples: dict[str, str]) -> list[Path]:
    """Candidate document files, sorted; hidden names are left out, links out of `folder` counted."""
    root = folder.resolve()
    seen_dirs = {root}
    files: list[Path] = []
    for current, dirs, names in os.walk(folder, followlinks=follow_links):
        base = Path(current)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and _keep_dir(base / d, root, follow_links,
                                                                                  seen_dirs, skipped, examples))
        for name in names:
            path = base / name
            if name.startswith(".") or path.suffix.lower() not in CORPUS_SUFFIXES:
                continue
            reason = _file_problem(path, root, follow_links)
            if reason is None:
                files.append(path)
            else:
                skipped[reason] += 1
                examples.setdefault(reason, path.relative_to(folder).as_posix())
    return sorted(files)


def _keep_dir(path: Path, root: Path, follow_links: bool, seen: set[Path], skipped: Counter, examples: dict) -> bool:
    if not path.is_symlink():
        return True
    target = path.resolve()
    if not follow_links and not target.is_relative_to(root):
        skipped[OUTSIDE] += 1
        examples.setdefault(OUTSIDE, path.name)
        return False
    if target in seen:  # a link back into a folder already walked: a loop, or the same files twice
        return False
    seen.add(target)
    return follow_links


def _file_problem(path: Path, root: Path, follow_links: bool) -> str | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return "broken symlink"
    if path.is_symlink() and not follow_links and not path.resolve().is_relative_to(root):
        return OUTSIDE
    kind = special_kind(mode)
    return f"{kind}, not a regular file" if kind else None


def _read_document(folder: Path, file: Path, documents: list[Document]) -> str | None:
    """Append the file's documents; the reason it was skipped, if it was."""
    rel = file.relative_to(folder).as_posix()
    size = file.stat().st_size
    if size == 0:
        documents.append(Document(rel, "", file))
        return None
    if file.suffix.lower() == ".jsonl":
        for line, row in parse_jsonl(file, text_lines(file)):
            doc_id = _field(file, line, row, "id", optional=True) or f"{rel}#{line}"
            meta = {k: v for k, v in row.items() if k not in ("text", "id")}
            documents.append(Document(doc_id, _field(file, line, row, "text"), file, meta))
        return None
    cap = limit_bytes("document")
    if size > cap:
        return f"document over {cap / 1e6:g} MB (TUNEWISE_MAX_DOCUMENT_MB)"
    with open(file, "rb") as handle:
        raw = handle.read(cap + 1)
    if len(raw) > cap:
        return f"document over {cap / 1e6:g} MB (TUNEWISE_MAX_DOCUMENT_MB)"
    if looks_binary(raw[:SNIFF_BYTES]):
        return "binary file"
    documents.append(Document(rel, decode(file, raw), file))
    return None


def report_skipped(folder: Path, skipped: Counter, examples: dict[str, str]) -> None:
    if not skipped:
        return
    parts = [f"{count} {reason} (e.g. {examples[reason]})" for reason, count in sorted(skipped.items())]
    hint = "; `tunewise --follow-links` reads links out of the folder" if OUTSIDE in skipped else ""
    log.warning(f"corpus {folder}: skipped {sum(skipped.values())} file(s): {', '.join(parts)}{hint}")
