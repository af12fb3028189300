"""Two commands writing the same output at once: the second refuses with one line naming the owner; a
lock left by a process that died is stale and taken over."""
import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from tests.fakes import assert_clean_failure, invoke, write_jsonl
from tunewise.core.lock import OutputBusyError, lock_path, output_lock

HOLD = """
import sys, time
from tunewise.core.lock import output_lock
with output_lock(sys.argv[1], "compare"):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock on tmp_path/out."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "out")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("command", [
    ["tune", "--model", "{model}", "--train", "{data}", "--out", "{out}", "--max-steps", "1"],
    ["index", "build", "{docs}", "--index", "{out}"],
    ["index", "update", "{docs}", "--index", "{out}"],
    ["export", "{tmp}/adapter", "--out", "{out}", "--merge"],
])
def test_a_second_writer_is_refused_with_the_owner(tmp_path, holder, tiny_model, command):
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "a", "completion": "b"}] * 2)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("alpha")
    args = [a.format(model=tiny_model, data=data, out=tmp_path / "out", docs=tmp_path / "docs", tmp=tmp_path)
            for a in command]
    result = invoke(args)
    assert_clean_failure(result, str(tmp_path / "out"), "another tunewise process", f"pid {holder.pid}", "compare")
    assert not (tmp_path / "out").exists()


def test_compare_is_refused_while_another_writes_the_run(tmp_path, holder):
    from tests.component.test_eval_runner import write_plan

    plan = write_plan(tmp_path, tmp_path / "unused-model", task="classification", approaches=["zero-shot"])
    result = invoke(["compare", str(plan), "--out", str(tmp_path / "out")])
    assert_clean_failure(result, "another tunewise process", f"pid {holder.pid}")


def _die_holding(out):
    with output_lock(out, "tune"):
        os._exit(9)  # killed mid-write: no cleanup runs


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, caplog, monkeypatch):
    import logging

    monkeypatch.setattr(logging.getLogger("tunewise"), "propagate", True)  # the CLI turns it off
    out = tmp_path / "out"
    proc = multiprocessing.get_context("fork").Process(target=_die_holding, args=(out,))
    proc.start()
    proc.join()
    assert json.loads(lock_path(out).read_text())["pid"] == proc.pid  # left behind
    with caplog.at_level("WARNING", logger="tunewise"), output_lock(out, "tune"):
        assert json.loads(lock_path(out).read_text())["pid"] == os.getpid()
    assert f"stale lock left by pid {proc.pid}" in caplog.text
    assert not lock_path(out).exists()  # released cleanly: nothing left beside the output


def test_the_same_process_cannot_take_a_lock_twice(tmp_path):
    with output_lock(tmp_path / "out", "compare"):
        with pytest.raises(OutputBusyError, match="another tunewise process"):
            with output_lock(tmp_path / "out", "compare"):
                pass
