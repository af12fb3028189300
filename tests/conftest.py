"""Shared fixtures: an isolated app home, no network beyond loopback, a tiny real model, GPU skips."""
from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from tests.fakes import build_tiny_llama
from tunewise.core.models import LoadPolicy

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("TUNEWISE_ONLINE", None)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):
    def connect(self, address):
        if not _is_local(address):
            raise ConnectionRefusedError(f"tests may not reach the network ({address!r})")
        return real(self, address)
    return connect


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory):
    """An app home for module- and session-scoped fixtures, which run before `_isolated`: nothing a test
    does (the ledger, pilots) may reach the real ~/.cache/tunewise."""
    previous = os.environ.get("TUNEWISE_HOME")
    os.environ["TUNEWISE_HOME"] = str(tmp_path_factory.mktemp("session-home"))
    yield
    if previous is None:
        os.environ.pop("TUNEWISE_HOME", None)
    else:
        os.environ["TUNEWISE_HOME"] = previous


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch, shared_model_cache):
    """Each test gets its own app home; only loopback sockets may connect."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TUNEWISE_HOME", str(home))
    monkeypatch.setenv("TUNEWISE_MODELS", str(shared_model_cache))
    # The CLI's opt-in flags set the process's load policy; monkeypatch restores the safe default after each test.
    monkeypatch.setattr("tunewise.core.models._process_policy", LoadPolicy())
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
    yield home


@pytest.fixture(scope="session")
def shared_model_cache(tmp_path_factory) -> Path:
    """Converted bundled models are shared across the session: conversion takes ~20 s."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny llama + tokenizer folder, built from a config (no hub)."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
