"""The app home and atomic file operations: nothing half-written is ever left where a reader looks."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tunewise.core.errors import OutputExistsError


def app_home() -> Path:
    """`$TUNEWISE_HOME`, default `~/.cache/tunewise`; created on first use."""
    home = Path(os.environ.get("TUNEWISE_HOME") or Path.home() / ".cache" / "tunewise")
    home.mkdir(parents=True, exist_ok=True)
    return home


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write through a temp file in the same folder and rename, so readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; a report or plan should be as readable as any file the user makes.
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def folder_mb(path: str | Path, skip: tuple[str, ...] = ()) -> float:
    """Size of the files under `path` in MiB (0 if it is missing), leaving out subfolders named in `skip`."""
    path = Path(path)
    if not path.exists():
        return 0.0
    files = [p for p in path.rglob("*") if p.is_file() and not set(skip) & set(p.relative_to(path).parts)]
    return round(sum(p.stat().st_size for p in files) / 2**20, 3)


def claim_output(path: str | Path, force: bool) -> Path:
    """Refuse to reuse an existing non-empty output unless `force`; with `force`, clear it."""
    path = Path(path)
    if path.exists() and (path.is_file() or any(path.iterdir())):
        if not force:
            raise OutputExistsError(path)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return path


@contextmanager
def staged_dir(final: str | Path) -> Iterator[Path]:
    """Build a folder beside `final` and rename it into place only when the block succeeds.

    Concurrent builders each stage their own folder; the first rename wins and the others discard
    theirs, so a reader never sees a partial folder.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield stage
        try:
            os.rename(stage, final)
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
