"""Hostile files where data enters: special files, endless lines, huge or binary documents, links out
of a corpus, absurd nesting. Each is one clear line (or a counted skip), in bounded time and memory."""
import json
import os
import signal
import socket

import pytest

from tests.fakes import assert_clean_failure, invoke, write_jsonl
from tunewise.core.data import load_corpus, load_dataset
from tunewise.core.errors import DataError
from tunewise.core.reading import ReadPolicy

ROWS = [{"text": f"t{i}", "label": "ab"[i % 2]} for i in range(4)]


@pytest.fixture(autouse=True)
def _deadline():
    """A read that blocks (a FIFO with no writer) must fail the test, not hang it."""
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading blocked for 20 s"))
    signal.alarm(20)
    yield
    signal.alarm(0)


def _fifo(path):
    os.mkfifo(path)
    return path


def _socket(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return path


@pytest.mark.parametrize("make, kind", [
    (lambda p: _fifo(p / "pipe.jsonl"), "named pipe (FIFO)"),
    (lambda p: _socket(p / "s.jsonl"), "socket"),
    (lambda p: "/dev/zero", "character device"),
    (lambda p: "/dev/null", "character device"),
])
@pytest.mark.parametrize("command", [["assess", "{path}", "--fast"], ["advise", "--answers", "{path}"],
                                     ["compare", "{path}", "--out", "{tmp}/run"]])
def test_special_files_are_refused_without_reading(tmp_path, make, kind, command):
    path = make(tmp_path)
    result = invoke([a.format(path=path, tmp=tmp_path) for a in command])
    assert_clean_failure(result, str(path), kind if command[0] == "assess" else "not a regular file")
    assert not (tmp_path / "run").exists()


def test_a_line_without_end_is_read_only_up_to_the_record_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEWISE_MAX_RECORD_MB", "0.1")
    path = tmp_path / "endless.jsonl"
    path.write_bytes(b'{"text": "' + b"x" * 3_000_000)
    with pytest.raises(DataError, match=r"endless.jsonl:1: record is 3.0 MB; records over 0.1 MB are not read"):
        load_dataset(path)


@pytest.mark.parametrize("name", ["big.jsonl", "big.json", "big.csv"])
def test_the_file_limit_holds_for_every_format(tmp_path, monkeypatch, name):
    monkeypatch.setenv("TUNEWISE_MAX_FILE_MB", "0.05")
    rows = [{"text": f"a few words of text, number {i}", "label": "ab"[i % 2]} for i in range(2000)]
    path = tmp_path / name
    if name.endswith(".jsonl"):
        write_jsonl(path, rows)
    elif name.endswith(".json"):
        path.write_text(json.dumps(rows))
    else:
        path.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    assert_clean_failure(invoke(["assess", str(path), "--fast"]), name, "files over 0.05 MB are not read",
                         "TUNEWISE_MAX_FILE_MB")


@pytest.mark.parametrize("name, body, line", [
    ("deep.jsonl", json.dumps(ROWS[0]) + "\n" + "[" * 100_000 + "\n", 2),
    ("deep.json", "[\n" + "{\"a\": " * 50_000 + "\n", 2),
])
def test_absurd_nesting_is_named_by_file_and_line(tmp_path, name, body, line):
    path = tmp_path / name
    path.write_text(body)
    assert_clean_failure(invoke(["assess", str(path), "--fast"]), f"{name}:{line}", "nested too deeply")


@pytest.mark.parametrize("name, body", [
    ("answers.yaml", "task: qa\nbudget_usd: " + "[" * 20_000),
    ("plan.yaml", "task: qa\ntuning: " + "{a: " * 20_000),
])
def test_absurd_nesting_in_plans_and_answers(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(body)
    command = ["advise", "--answers", str(path)] if name == "answers.yaml" else ["compare", str(path), "--out",
                                                                                str(tmp_path / "run")]
    assert_clean_failure(invoke(command), f"{name}:2", "nested too deeply")
    assert not (tmp_path / "run").exists()


@pytest.fixture
def corpus(tmp_path):
    """A corpus folder with one document, beside a folder of secrets that links may point into."""
    for path, text in {"docs/a.md": "alpha", "secret/passwd": "root:x:0:0"}.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path / "docs"


def _assess_corpus(tmp_path, docs, *flags):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    result = invoke([*flags, "assess", str(data), "--fast", "--corpus", str(docs), "--json"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    profile = json.loads(result.output[result.output.index("{"):])
    return profile["corpus"]["documents"], warnings


def test_links_out_of_the_corpus_are_skipped_and_counted(tmp_path, corpus):
    (corpus / "passwd.txt").symlink_to(tmp_path / "secret" / "passwd")
    (corpus / "etc").symlink_to(tmp_path / "secret", target_is_directory=True)
    (corpus / "inside.txt").symlink_to(corpus / "a.md")
    (corpus / "loop").symlink_to(corpus, target_is_directory=True)
    ids = [d.id for d in load_corpus(corpus)]
    assert ids == ["a.md", "inside.txt"]
    assert all("root:x" not in d.text for d in load_corpus(corpus))
    count, warnings = _assess_corpus(tmp_path, corpus)
    assert count == 2
    assert len(warnings) == 1 and "skipped 2 file(s)" in warnings[0] and "outside the corpus folder" in warnings[0]


def test_follow_links_reads_them_when_asked(tmp_path, corpus):
    (corpus / "passwd.txt").symlink_to(tmp_path / "secret" / "passwd")
    count, warnings = _assess_corpus(tmp_path, corpus, "--follow-links")
    assert count == 2 and warnings == []


def test_only_an_explicit_policy_follows_links_not_the_environment(tmp_path, corpus, monkeypatch):
    """The old side channel (TUNEWISE_FOLLOW_LINKS) is gone: the policy is an argument, safe by default."""
    monkeypatch.setenv("TUNEWISE_FOLLOW_LINKS", "1")
    (corpus / "passwd.txt").symlink_to(tmp_path / "secret" / "passwd")
    assert [d.id for d in load_corpus(corpus)] == ["a.md"]
    assert [d.id for d in load_corpus(corpus, ReadPolicy(follow_links=True))] == ["a.md", "passwd.txt"]
    count, warnings = _assess_corpus(tmp_path, corpus)
    assert count == 1 and "skipped 1 file(s)" in warnings[0]


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory):
    from tests.fakes import build_tiny_embedder

    return build_tiny_embedder(tmp_path_factory.mktemp("emb") / "tiny-embedder")


def _indexed_documents(tmp_path, corpus, embedder, *flags):
    index = ["--index", str(tmp_path / "index"), "--embedder", str(embedder), "--json"]
    built = invoke([*flags, "index", "build", str(corpus), *index])
    assert built.exit_code == 0, built.output
    (corpus / "b.md").write_text("beta")
    updated = invoke([*flags, "index", "update", str(corpus), *index])
    assert updated.exit_code == 0, updated.output
    counts = [json.loads(r.output[r.output.index("{"):]) for r in (built, updated)]
    return counts[0]["added"], counts[1]["added"] + counts[1]["unchanged"]


@pytest.mark.parametrize("flags, documents", [((), (1, 2)), (("--follow-links",), (2, 3))])
def test_follow_links_reaches_index_build_and_update_explicitly(tmp_path, corpus, tiny_embedder, flags, documents):
    (corpus / "passwd.txt").symlink_to(tmp_path / "secret" / "passwd")
    assert _indexed_documents(tmp_path, corpus, tiny_embedder, *flags) == documents
    assert "TUNEWISE_FOLLOW_LINKS" not in os.environ


@pytest.mark.parametrize("flags, documents", [((), 1), (("--follow-links",), 2)])
def test_follow_links_reaches_advise_explicitly(tmp_path, corpus, flags, documents):
    (corpus / "passwd.txt").symlink_to(tmp_path / "secret" / "passwd")
    result = invoke([*flags, "advise", "--task", "qa", "--corpus", str(corpus), "--json"])
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])["profile"]
    assert profile["corpus"]["documents"] == documents
    assert "TUNEWISE_FOLLOW_LINKS" not in os.environ


def test_follow_links_reaches_compare_explicitly(tmp_path):
    """A plan whose corpus is only a link out of it: refused without the flag; with it, the corpus reads
    and compare stops at its next check (an --out holding the plan), before any model loads."""
    from tests.component.test_eval_runner import write_plan

    plan = write_plan(tmp_path / "run", tmp_path / "unused-model", approaches=["rag"], corpus="linked")
    (tmp_path / "run" / "linked").mkdir()
    (tmp_path / "run" / "linked" / "fares.md").symlink_to(next((tmp_path / "run" / "docs").iterdir()))
    refused = invoke(["compare", str(plan), "--out", str(tmp_path / "run")])
    assert_clean_failure(refused, "linked", "every one was skipped")
    followed = invoke(["--follow-links", "compare", str(plan), "--out", str(tmp_path / "run")])
    assert_clean_failure(followed, str(tmp_path / "run"))
    assert "skipped" not in followed.output
    assert "TUNEWISE_FOLLOW_LINKS" not in os.environ


def test_binary_huge_and_special_documents_are_skipped_and_counted(tmp_path, corpus, monkeypatch):
    monkeypatch.setenv("TUNEWISE_MAX_DOCUMENT_MB", "0.01")
    (corpus / "scan.txt").write_bytes(b"%PDF-1.7\n\xe2\xe3\xcf\xd3 binary")
    (corpus / "zeros.md").write_bytes(b"\x00" * 100)
    (corpus / "huge.txt").write_text("word " * 10_000)
    _fifo(corpus / "pipe.txt")
    docs = load_corpus(corpus)
    assert [d.id for d in docs] == ["a.md"]
    count, warnings = _assess_corpus(tmp_path, corpus)
    assert count == 1
    assert "skipped 4 file(s)" in warnings[0]
    for reason in ("2 binary file", "1 document over 0.01 MB", "1 named pipe (FIFO)"):
        assert reason in warnings[0]


def test_a_corpus_of_only_skipped_files_is_refused(tmp_path, corpus):
    (corpus / "a.md").unlink()
    (corpus / "passwd.txt").symlink_to(tmp_path / "secret" / "passwd")
    with pytest.raises(DataError, match="every one was skipped"):
        load_corpus(corpus)
