"""Damaged artefacts the tool wrote (index, adapter, checkpoint, ledger): one line naming what is damaged
and what to do, never a crash, and nothing else touched."""
import json
import shutil

import pytest

from tests.fakes import assert_clean_failure, build_tiny_embedder, invoke

DAMAGE = {
    "truncated": lambda f: f.write_bytes(f.read_bytes()[:4096]),
    "empty": lambda f: f.write_bytes(b""),
    "overwritten header": lambda f: f.write_bytes(b"garbage, not a database" + f.read_bytes()[23:]),
    "scrambled pages": lambda f: f.write_bytes(f.read_bytes()[:16384] + b"\xa5" * 40000 + f.read_bytes()[56384:]),
}


@pytest.fixture(scope="module")
def built_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("idx")
    embedder = build_tiny_embedder(root / "emb")
    (root / "docs").mkdir()
    for i in range(20):
        (root / "docs" / f"{i}.txt").write_text(f"Refunds number {i} take five business days. " * 20)
    result = invoke(["index", "build", str(root / "docs"), "--index", str(root / "index"), "--embedder", str(embedder)])
    assert result.exit_code == 0, result.output
    return root, embedder


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", [["index", "info"], ["index", "update", "{docs}"],
                                     ["index", "eval", "{qa}"]])
def test_damaged_index_sqlite_is_named(built_index, tmp_path, damage, command):
    root, embedder = built_index
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    DAMAGE[damage](index / "chroma.sqlite3")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "refunds?", "answer": "five days", "source": "1.txt"}) + "\n")
    args = [a.format(docs=root / "docs", qa=qa) for a in command]
    result = invoke([*args, "--index", str(index), "--embedder", str(embedder)])
    assert_clean_failure(result, str(index / "chroma.sqlite3"), "the index is damaged", "index build")
