"""`tunewise compare` as a user runs it: table and report path, clean --json, refusal to overwrite."""
import json

from tests.component.test_eval_runner import write_plan
from tests.fakes import assert_clean_failure, invoke


def test_compare_prints_table_and_report_path(tiny_model, tmp_path):
    plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "head"])
    result = invoke(["compare", str(plan), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "zero-shot" in result.output and "head" in result.output
    assert f"Report: {tmp_path / 'out' / 'report.html'}" in result.output.replace("\n", "")
    verdict = json.loads((tmp_path / "out" / "results.json").read_text())["verdict"]
    assert f"Verdict: {verdict['sentence']}" in " ".join(result.output.split())
    again = invoke(["compare", str(plan), "--out", str(tmp_path / "out")])
    assert_clean_failure(again, "already exists", "--force")
    forced = invoke(["compare", str(plan), "limit_eval=3", "--out", str(tmp_path / "out"), "--force",
                     "--only", "head", "--json"])
    assert forced.exit_code == 0, forced.output
    data = json.loads(forced.stdout)
    assert list(data["approaches"]) == ["head"] and data["winner"] == "head"
    assert data["approaches"]["head"]["examples"] == 3
    assert not (tmp_path / "out" / "predictions" / "zero-shot.jsonl").exists()
