"""Bounded reading: only regular files, and never more than a set number of bytes per file or per record.

Whatever a path points at (a FIFO, /dev/zero, a 10 GB file with no newline), memory stays bounded:
non-regular files are refused before they are opened, lines are read with a byte cap, and files with a
cap on their total size. The caps are in MB and can be raised through the environment
(`TUNEWISE_MAX_FILE_MB`, `TUNEWISE_MAX_RECORD_MB`, `TUNEWISE_MAX_DOCUMENT_MB`).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from tunewise.core.errors import DataError

# kind -> (environment variable, default in MB)
LIMITS = {"file": ("TUNEWISE_MAX_FILE_MB", 1024.0), "record": ("TUNEWISE_MAX_RECORD_MB", 2.0),
          "document": ("TUNEWISE_MAX_DOCUMENT_MB", 16.0)}
SNIFF_BYTES = 8192
SCAN_BLOCK = 1 << 20
BINARY_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x7fELF", b"\x1f\x8b")
_KINDS = ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


@dataclass(frozen=True)
class ReadPolicy:
    """The user's choices for reading a corpus, passed explicitly from the command that reads it
    (`tunewise --follow-links ...`) down to `core.corpus.read_corpus`; safe by default."""

    follow_links: bool = False   # read symlinks that resolve outside the corpus folder


def limit_bytes(kind: str) -> int:
    """The byte cap for `kind` ('file', 'record' or 'document'), from the environment or the default."""
    variable, default = LIMITS[kind]
    raw = os.environ.get(variable)
    try:
        megabytes = float(raw) if raw else default
    except ValueError:
        raise DataError(variable, f"must be a number of MB, got '{raw}'") from None
    return int(megabytes * 1_000_000)


def special_kind(mode: int) -> str | None:
    """'named pipe (FIFO)', 'character device', ... for a non-regular, non-folder file; None otherwise."""
    return next((name for test, name in _KINDS if test(mode)), None)


def check_regular(path: Path) -> os.stat_result:
    """The file's stat, refusing a missing path, a folder and anything that is not a regular file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(path, "is a folder, not a file")
    kind = special_kind(info.st_mode)
    if kind is not None or not stat.S_ISREG(info.st_mode):
        raise DataError(path, f"is a {kind or 'special file'}, not a regular file; tunewise reads only regular files")
    return info


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head or head.startswith(BINARY_MAGIC)


def too_big(path: Path, size: int, cap: int, what: str = "file", line: int | None = None) -> DataError:
    return DataError(path, f"{what} is {size / 1e6:.1f} MB; {what}s over {cap / 1e6:g} MB are not read "
                           f"(set {LIMITS[what][0]} to raise the limit)", line)


def read_capped(path: Path, cap: int | None = None, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `cap` bytes (the file may grow while it is read)."""
    cap = limit_bytes(what) if cap is None else cap
    info = check_regular(path)
    if info.st_size > cap:
        raise too_big(path, info.st_size, cap, what)
    with open(path, "rb") as handle:
        raw = handle.read(cap + 1)
    if len(raw) > cap:
        raise too_big(path, len(raw), cap, what)
    return raw


def decode(path: Path, raw: bytes, line: int | None = None) -> str:
    """UTF-8 text, a BOM dropped; a bad byte is located by line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = (line or 1) + raw.count(b"\n", 0, exc.start)
        raise DataError(path, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8", where) from None


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a regular UTF-8 file, each line capped at the record limit and the whole
    at the file limit; an empty or binary file is refused."""
    record_cap, file_cap = limit_bytes("record"), limit_bytes("file")
    check_regular(path)
    with open(path, "rb") as handle:
        if looks_binary(handle.read(SNIFF_BYTES)):
            raise DataError(path, "looks like a binary file, not text")
        handle.seek(0)
        total, seen_text = 0, False
        for number, raw in enumerate(iter(lambda: handle.readline(record_cap + 1), b""), start=1):
            total += len(raw)
            if len(raw) > record_cap and not raw.endswith(b"\n"):
                raise too_big(path, len(raw) + _rest_of_line(handle, file_cap), record_cap, "record", number)
            if total > file_cap:
                raise too_big(path, total, file_cap)
            seen_text = seen_text or bool(raw.strip())
            yield number, decode(path, raw, number).rstrip("\r\n")
    if not seen_text:
        raise DataError(path, "file is empty")


def _rest_of_line(handle: BinaryIO, limit: int) -> int:
    """Bytes up to the next newline, counted without keeping them (stops at `limit`)."""
    counted = 0
    while counted < limit:
        block = handle.read(SCAN_BLOCK)
        if not block:
            break
        end = block.find(b"\n")
        if end >= 0:
            return counted + end
        counted += len(block)
    return counted


def deep_nesting_line(text: str, limit: int = 100) -> int:
    """The line where brackets first nest deeper than `limit` (1 if they never do), to locate a
    RecursionError; quoted strings are skipped so brackets inside them do not count."""
    depth, line, quote, escaped = 0, 1, "", False
    for char in text:
        if char == "\n":
            line += 1
        if quote:
            escaped, quote = (not escaped and char == "\\"), ("" if char == quote and not escaped else quote)
            continue
        if char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line
        elif char in "]}":
            depth -= 1
    return 1
