"""The ledger: rows round-trip, a killed writer leaves it consistent, a corrupt or newer file is refused
and left as it was, and `tunewise history` lists and filters it."""
import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.fakes import assert_clean_failure, invoke
from tunewise.core.ledger import SCHEMA_VERSION, AdvisorPick, Ledger, LedgerError, MeasuredRun, agreement, ledger_path


def run(approach="lora", kind="compare", **extra) -> MeasuredRun:
    return MeasuredRun(kind=kind, approach=approach, task="classification", examples=75, mean_tokens=21.5,
                       total_tokens=1612, model="smollm2-135m-instruct", settings={"max_steps": 40},
                       metric="f1_macro", metric_value=0.91, train_seconds=110.0, peak_memory_mb=3897.0,
                       latency_ms_p50=526.0, device="cpu", **extra)


def test_runs_and_picks_round_trip_newest_first_and_filter():
    ledger = Ledger()
    ledger.append_runs([run("lora"), run("head", kind="tune")])
    ledger.append_runs([run("few-shot")])
    assert [r.approach for r in ledger.runs()] == ["few-shot", "head", "lora"]
    assert [r.approach for r in ledger.runs(kind="compare")] == ["few-shot", "lora"]
    lora = ledger.runs(approach="lora")[0]
    assert lora.settings == {"max_steps": 40} and lora.metric_value == 0.91 and lora.recorded_at
    ledger.append_pick(AdvisorPick(advised="few-shot", winner="head", matched=False))
    ledger.append_pick(AdvisorPick(advised="head", winner="head", matched=True, with_pilot=True))
    assert agreement(Ledger().picks()) == {"with_pilot": {"comparisons": 1, "matched": 1},
                                           "without_pilot": {"comparisons": 1, "matched": 0}}


def test_a_corrupt_ledger_is_refused_and_left_as_it_was():
    path = ledger_path()
    path.write_bytes(b"not a database, but someone's notes\n" * 100)
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="not a readable Tunewise ledger"):
        Ledger()
    assert path.read_bytes() == before
    assert_clean_failure(invoke(["history"]), "not a readable Tunewise ledger", "left as it is")


def test_a_ledger_from_a_newer_version_is_refused():
    Ledger().append_runs([run()])
    with sqlite3.connect(ledger_path()) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(LedgerError, match="newer Tunewise"):
        Ledger()
    assert_clean_failure(invoke(["history", "--json"]), "newer Tunewise")


WRITER = """
import sys
from tunewise.core.ledger import Ledger, MeasuredRun
ledger = Ledger(sys.argv[1])
print("ready", flush=True)
i = 0
while True:
    ledger.append_runs([MeasuredRun(kind="pilot", approach=f"a{i}-{j}", settings={"blob": "x" * 2000})
                        for j in range(20)])
    i += 1
"""


def test_a_writer_killed_mid_append_leaves_whole_transactions(tmp_path):
    path = tmp_path / "ledger.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    runs = Ledger(path).runs()
    assert len(runs) > 20 and len(runs) % 20 == 0          # every append is all or nothing
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    Ledger(path).append_runs([run()])                        # and it stays writable
    assert Ledger(path).runs(limit=1)[0].approach == "lora"


def test_history_lists_filters_and_reports_the_advisor(_isolated):
    Ledger().append_runs([run("lora"), run("head")])
    Ledger().append_pick(AdvisorPick(advised="few-shot", winner="head", matched=False))
    result = invoke(["history", "--json", "--approach", "head"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["approach"] for r in data["runs"]] == ["head"]
    assert data["advisor"]["without_pilot"] == {"comparisons": 1, "matched": 0}
    text = " ".join(invoke(["history"]).output.split())      # rich wraps at the terminal's width
    assert "lora" in text and "in 0 of 1 comparisons" in text


def test_processes_opening_a_new_ledger_at_once_all_see_a_whole_schema(tmp_path):
    """Readers that open the ledger while another process creates it never see half a schema."""
    import subprocess
    import sys

    path = tmp_path / "ledger.sqlite"
    code = ("import sys; from tunewise.core.ledger import Ledger; "
            "[Ledger(sys.argv[1]) for _ in range(20)]; print('ok')")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [out.strip() for out, _ in results] == ["ok"] * 6, [err for _, err in results]
    assert Ledger(path).runs() == []
