"""Bad input for index, ask and serve: one `Error:` line naming the problem, and nothing written."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import assert_clean_failure, invoke


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_missing_corpus_writes_no_index(tmp_path):
    result = invoke(["index", "build", str(tmp_path / "nope"), "--index", str(tmp_path / "index")])
    assert_clean_failure(result, "nope", "corpus folder not found")
    assert not (tmp_path / "index").exists()


def test_broken_jsonl_document_names_file_and_line(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.jsonl").write_text('{"text": "fine"}\n{"text": broken}\n')
    result = invoke(["index", "build", str(docs), "--index", str(tmp_path / "index")])
    assert_clean_failure(result, "notes.jsonl:2", "broken JSON")
    assert not (tmp_path / "index").exists()


def test_index_folder_that_holds_other_files_is_refused(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello")
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.txt").write_text("mine")
    before = listing(other)
    result = invoke(["index", "build", str(docs), "--index", str(other)])
    assert_clean_failure(result, str(other), "not empty and holds no index")
    assert listing(other) == before


@pytest.mark.parametrize("args,fragment", [
    (["index", "update", "{docs}", "--index", "{missing}"], "no index here"),
    (["index", "info", "--index", "{missing}"], "no index here"),
    (["ask", "hi", "--index", "{missing}"], "no index here"),
    (["index", "eval", "{docs}/a.txt", "--index", "{missing}"], "unsupported file type '.txt'"),
])
def test_missing_index_is_not_created(tmp_path, args, fragment):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello")
    filled = [a.format(docs=docs, missing=tmp_path / "missing") for a in args]
    assert_clean_failure(invoke(filled), fragment)
    assert not (tmp_path / "missing").exists()


def test_index_and_chroma_url_together_are_refused(tmp_path):
    result = invoke(["index", "info", "--index", str(tmp_path), "--chroma-url", "http://127.0.0.1:9"])
    assert_clean_failure(result, "exactly one of --index DIR or --chroma-url URL")


def test_bad_chroma_url(tmp_path):
    assert_clean_failure(invoke(["index", "info", "--chroma-url", "ftp://x"]), "must look like http://host:port")


def test_serve_beyond_loopback_needs_a_token():
    assert_clean_failure(invoke(["serve", "--host", "0.0.0.0"]), "not loopback", "--token-env")


def test_serve_token_env_must_be_set(monkeypatch):
    monkeypatch.delenv("TW_NO_TOKEN", raising=False)
    assert_clean_failure(invoke(["serve", "--token-env", "TW_NO_TOKEN"]), "TW_NO_TOKEN is not set")


def test_ask_fails_on_a_missing_index_before_calling_the_api(tmp_path, monkeypatch):
    monkeypatch.delenv("TW_NO_KEY", raising=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello")
    result = invoke(["ask", "hi", "--index", str(tmp_path / "missing"), "--api-base", "http://127.0.0.1:9/v1",
                     "--api-key-env", "TW_NO_KEY"])
    assert_clean_failure(result, "no index here")
