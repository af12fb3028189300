"""`tunewise compare` as a user runs it: table and report path, clean --json, reruns reuse finished work."""
import json
import re

from tests.component.test_eval_runner import write_plan
from tests.fakes import assert_clean_failure, invoke


def test_compare_prints_table_and_report_path(tiny_model, tmp_path):
    plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "head"])
    result = invoke(["compare", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "zero-shot" in result.output and "head" in result.output
    assert f"Report: {tmp_path / 'out' / 'report.html'}" in result.output.replace("\n", "")
    kept = (tmp_path / "out" / "approaches" / "head.json").stat().st_mtime_ns
    again = invoke(["compare", str(plan), "--out", str(tmp_path / "out")])      # a rerun reuses finished work
    assert again.exit_code == 0, again.output
    assert "zero-shot: reused" in again.stderr and "head: reused" in again.stderr
    assert (tmp_path / "out" / "approaches" / "head.json").stat().st_mtime_ns == kept
    verdict = json.loads((tmp_path / "out" / "results.json").read_text())["verdict"]
    assert f"Verdict: {verdict['sentence']}" in " ".join(result.output.split())
    forced = invoke(["compare", str(plan), "limit_eval=3", "--out", str(tmp_path / "out"), "--force",
                     "--only", "head", "--json"])
    assert forced.exit_code == 0, forced.output
    data = json.loads(forced.stdout)
    assert list(data["approaches"]) == ["head"] and data["winner"] == "head"
    assert data["approaches"]["head"]["examples"] == 3
    assert not (tmp_path / "out" / "predictions" / "zero-shot.jsonl").exists()


def test_progress_is_timestamped_lines_when_not_a_terminal(tiny_model, tmp_path):
    plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "head"])
    result = invoke(["compare", str(plan), "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    for phase in ("compare, overall: started", "zero-shot: predict: done in", "head: train: done in",
                  "head: predict: done in", "compare, overall: done in"):
        assert any(re.match(rf"\[\d\d:\d\d:\d\d\] {re.escape(phase)}", line) for line in lines), result.stderr
    assert json.loads(result.stdout)["winner"] in ("zero-shot", "head")    # stdout stays clean JSON
