"""One writer per output folder: a lock file beside the folder, holding the owner's pid.

The lock is an `fcntl.flock` on `.NAME.lock` next to the output, so the kernel releases it when its
owner dies however it dies; a lock file left behind by a dead process is therefore stale by
construction, and the next writer takes it over (and says so). The pid in the file names the owner
in the refusal.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tunewise.core.errors import TunewiseError

log = logging.getLogger("tunewise")


class OutputBusyError(TunewiseError):
    """Another tunewise process is writing the same output."""


def lock_path(out: str | Path) -> Path:
    out = Path(out).expanduser().absolute()
    return out.parent / f".{out.name}.lock"


@contextmanager
def output_lock(out: str | Path, command: str) -> Iterator[Path]:
    """Hold the lock on `out` for the block; refuse at once if another live process holds it."""
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, out)
    try:
        previous = _owner(fd)
        if previous and previous.get("pid") != os.getpid():
            log.warning(f"{out}: took over a stale lock left by pid {previous.get('pid')} "
                        f"({previous.get('command')}), which is no longer running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0)
        yield path
    finally:
        path.unlink(missing_ok=True)  # released; a writer that opened it meanwhile re-checks the inode
        os.close(fd)


def _acquire(path: Path, out: str | Path) -> int:
    """An fd holding the flock on the file now at `path` (retrying if it was unlinked under us)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _describe(fd)
            os.close(fd)
            raise OutputBusyError(f"{out} is being written by another tunewise process ({owner}); "
                                  "wait for it to finish, or choose another output") from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _owner(fd: int) -> dict | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _describe(fd: int) -> str:
    owner = _owner(fd) or {}
    return f"pid {owner.get('pid', '?')}, {owner.get('command', '?')}, since {owner.get('since', '?')}"
