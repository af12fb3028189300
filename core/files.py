"""The app home and atomic file operations: nothing half-written is ever left where a reader looks."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from tunewise.core.errors import ConfigError, DamagedFileError, OutputExistsError

OUTPUT_MARKER = ".tunewise-output"   # in every output folder tunewise creates: what --force may replace


def app_home() -> Path:
    """`$TUNEWISE_HOME`, default `~/.cache/tunewise`; created on first use."""
    home = Path(os.environ.get("TUNEWISE_HOME") or Path.home() / ".cache" / "tunewise")
    home.mkdir(parents=True, exist_ok=True)
    return home


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write through a temp file in the same folder and rename, so readers see old or new, never half."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; a report or plan should be as readable as any file the user makes.
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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
    """JSON the tool wrote; a file damaged or edited into nonsense is named, not crashed on."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DamagedFileError(path, f"invalid JSON ({exc.msg})", exc.lineno) from None
    except UnicodeDecodeError:
        raise DamagedFileError(path, "invalid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise DamagedFileError(path, "invalid JSON (nested too deeply)") from None


def folder_mb(path: str | Path, skip: tuple[str, ...] = ()) -> float:
    """Size of the files under `path` in MiB (0 if it is missing), leaving out subfolders named in `skip`."""
    path = Path(path)
    if not path.exists():
        return 0.0
    files = [p for p in path.rglob("*") if p.is_file() and not set(skip) & set(p.relative_to(path).parts)]
    return round(sum(p.stat().st_size for p in files) / 2**20, 3)


def claim_output(path: str | Path, force: bool, inputs: Iterable[str | Path | None] = (),
                 folder: bool = True) -> Path:
    """Refuse an output that overlaps an input, or an existing non-empty one unless `force`.

    With `force`, a folder is cleared only if tunewise wrote it (it carries `OUTPUT_MARKER`); a file
    output is left for the caller's atomic write to replace. Nothing the tool did not write is deleted.
    """
    path = Path(path)
    check_apart(path, inputs)
    if not path.exists() and not path.is_symlink():
        return path
    if path.is_dir() and not path.is_symlink():
        if not folder:
            raise ConfigError(f"{path} is a folder; give a file path for this output")
        if not any(p.name != OUTPUT_MARKER for p in path.iterdir()):
            (path / OUTPUT_MARKER).unlink(missing_ok=True)  # ours and empty: a staged rename may land on it
            return path
        if not force:
            raise OutputExistsError(path)
        if not (path / OUTPUT_MARKER).is_file():
            raise ConfigError(f"{path} was not written by tunewise (no {OUTPUT_MARKER} marker), so --force will "
                              "not delete it; choose another --out or remove the folder yourself")
        shutil.rmtree(path)
        return path
    if folder:
        raise ConfigError(f"{path} is a file, not an output folder; choose another --out")
    if not force:
        raise OutputExistsError(path)
    return path


def mark_output(folder: str | Path, command: str) -> Path:
    """Create `folder` and write the marker that lets a later --force replace it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / OUTPUT_MARKER).exists():
        atomic_write_text(folder / OUTPUT_MARKER, f"written by tunewise {command}\n")
    return folder


def check_apart(out: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """An output must neither be, hold, nor sit inside an input: --force would delete it, a build read it."""
    target = Path(out).expanduser().resolve()
    for item in inputs:
        if item is None or not Path(item).expanduser().exists():
            continue
        source = Path(item).expanduser().resolve()
        if target == source or target in source.parents:
            raise ConfigError(f"output {out} holds the input {item}; choose an output path apart from the inputs")
        if source in target.parents:
            raise ConfigError(f"output {out} lies inside the input {item}; choose an output path apart from the inputs")


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
