"""Bad files, impossible settings and wrong models, through the real commands: one line, nothing written."""
import json

import pytest

from tests.fakes import assert_clean_failure, build_tiny_embedder, invoke, write_jsonl

SFT = [{"prompt": "hi", "completion": "hello"}] * 3


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory):
    return build_tiny_embedder(tmp_path_factory.mktemp("emb") / "tiny-embedder")


def _tune(tiny_model, train, out, *extra):
    return invoke(["tune", "--model", str(tiny_model), "--train", str(train), "--out", str(out),
                   "--max-steps", "1", *extra])


def test_binary_training_file(tiny_model, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00")
    assert_clean_failure(_tune(tiny_model, train, tmp_path / "o"), "train.jsonl", "binary file")
    assert not (tmp_path / "o").exists()


def test_fifty_megabyte_single_line(tiny_model, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"prompt": "x" * 50_000_000, "completion": "y"}))
    assert_clean_failure(_tune(tiny_model, train, tmp_path / "o"), "train.jsonl:1", "record is 50.0 MB")
    assert not (tmp_path / "o").exists()


def test_malformed_csv_names_the_line(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("text,label\nfine,a\ntoo,many,cells\n")
    assert_clean_failure(invoke(["assess", str(data), "--fast"]), "d.csv:3", "expected 2 columns")


@pytest.mark.parametrize("flag,value,fragment", [
    ("--batch-size", "0", "batch"),
    ("--lr", "-0.001", "lr"),
    ("--max-steps", "-5", "steps"),
])
def test_impossible_hyperparameters(tiny_model, tmp_path, flag, value, fragment):
    train = write_jsonl(tmp_path / "t.jsonl", SFT)
    result = _tune(tiny_model, train, tmp_path / "o", flag, value)
    assert_clean_failure(result, fragment)
    assert not (tmp_path / "o").exists()


def test_unknown_tuning_method(tiny_model, tmp_path):
    train = write_jsonl(tmp_path / "t.jsonl", SFT)
    assert_clean_failure(_tune(tiny_model, train, tmp_path / "o", "--method", "magic"), "magic")
    assert not (tmp_path / "o").exists()


def test_model_path_that_is_not_a_model(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not weights")
    train = write_jsonl(tmp_path / "t.jsonl", SFT)
    result = invoke(["tune", "--model", str(folder), "--train", str(train), "--out", str(tmp_path / "o")])
    assert_clean_failure(result, "notes", "not a model folder")
    assert not (tmp_path / "o").exists()


def test_non_utf8_document_leaves_no_index(tmp_path, tiny_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("fine")
    (docs / "old.txt").write_bytes("caf\xe9 menu".encode("latin-1"))
    result = invoke(["index", "build", str(docs), "--index", str(tmp_path / "idx"), "--embedder", str(tiny_embedder)])
    assert_clean_failure(result, "old.txt:1", "not valid UTF-8")
    assert not (tmp_path / "idx").exists()


def test_index_update_with_another_embedder_is_refused(tmp_path, tiny_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("The ferry leaves at nine.")
    index = tmp_path / "idx"
    built = invoke(["index", "build", str(docs), "--index", str(index), "--embedder", str(tiny_embedder)])
    assert built.exit_code == 0, built.output
    before = sorted(p.name for p in index.rglob("*"))
    result = invoke(["index", "update", str(docs), "--index", str(index), "--embedder", "minilm-l6"])
    assert_clean_failure(result, "embedder")
    assert sorted(p.name for p in index.rglob("*")) == before
