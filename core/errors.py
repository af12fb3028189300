"""User-facing errors: each carries one clear sentence that the CLI prints without a traceback."""
from __future__ import annotations

from pathlib import Path


class TunewiseError(Exception):
    """A mistake the user can fix; the message is shown as is, on one line."""


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
