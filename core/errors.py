"""User-facing errors: each carries one clear sentence that the CLI prints without a traceback."""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path


# Every character str.splitlines() breaks on, escaped: a message quoting user data stays one line.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


class TunewiseError(Exception):
    """A mistake the user can fix; the message is shown as is, on one line."""

    def __init__(self, message: str = ""):
        super().__init__(str(message).translate(_LINE_BREAKS))


class DataError(TunewiseError):
    """A dataset or corpus problem, located by file and (where known) line."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(TunewiseError):
    """A configuration, plan or answers file problem, naming the key."""


class ModelError(TunewiseError):
    """A model that cannot be found, loaded or reached."""


class OutputExistsError(TunewiseError):
    """An output that would be overwritten without --force."""

    def __init__(self, path: str | Path):
        super().__init__(f"{path} already exists; pass --force to overwrite it")


class DamagedFileError(TunewiseError):
    """A file tunewise wrote (a result, ledger, checkpoint or adapter) that is truncated or edited into nonsense."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}; it is damaged: restore it from a copy, or remove it and run again")


class DeviceError(TunewiseError):
    """A method or precision that the available hardware cannot run."""


# errno -> what to do; an OSError with one of these is the user's disk or permissions, not a bug.
_OS_HINTS = {
    errno.ENOSPC: "free some space and run again; finished work is kept",
    errno.EDQUOT: "free some space (disk quota) and run again; finished work is kept",
    errno.EFBIG: "the file grew past what this file system allows; write to another disk",
    errno.EROFS: "the file system is read-only; choose a writable --out",
    errno.EACCES: "permission denied; choose a path you can write (and read), or fix its permissions",
    errno.EPERM: "operation not permitted; choose a path you own",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
    errno.EMFILE: "too many open files; raise `ulimit -n` and run again",
}
_DISK_FULL_TEXT = ("no space left on device", "storagefull", "code: 28", "file write failed")


def os_error_line(exc: BaseException, where: str | Path | None = None) -> str | None:
    """One line for a disk-full, read-only or permission failure from any layer (an OSError, or a library
    error wrapping one: torch, safetensors and Chroma report them in their own types); None otherwise."""
    code = exc.errno if isinstance(exc, OSError) else None
    wrapped = re.search(r"os error (\d+)", str(exc))
    if code is None and wrapped:
        code = int(wrapped.group(1))
    if code in _OS_HINTS:
        place = getattr(exc, "filename", None) or where or "an output file"
        return f"{place}: {os.strerror(code)}; {_OS_HINTS[code]}"
    if any(marker in str(exc).lower() for marker in _DISK_FULL_TEXT):
        return f"{where or 'the output'}: no space left on device; {_OS_HINTS[errno.ENOSPC]}"
    return None
