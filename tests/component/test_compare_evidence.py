"""compare's verdict, predicted-vs-measured and ledger rows, end to end on the tiny llama."""
import json

from tests.component.test_eval_runner import write_plan
from tunewise.core.ledger import Ledger
from tunewise.eval.stats import verdict_of_folder


def test_compare_judges_records_and_reports(tiny_model, tmp_path):
    from tunewise.eval.runner import run_compare

    plan_path = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "head"],
                           recommendation="zero-shot",
                           predictions=[{"approach": "head", "metric": "f1_macro", "value": 0.3, "low": 0.1,
                                         "high": 0.5, "basis": "curve"}])
    results = run_compare(plan_path, tmp_path / "out").model_dump(mode="json")
    v = results["verdict"]
    assert v == verdict_of_folder(tmp_path / "out", "classification").model_dump(mode="json")
    assert results["winner"] == v["winner"] and v["winner"] in [v["best"], *v["ties"]]
    assert v["examples"] == 5 and v["sentence"]
    measured = results["approaches"]["head"]["metrics"]["f1_macro"]
    (pair,) = results["predicted_vs_measured"]
    assert pair["predicted"] == 0.3 and pair["measured"] == round(measured, 4)
    assert pair["error"] == round(measured - 0.3, 4)
    runs = Ledger().runs(kind="compare")
    assert sorted(r.approach for r in runs) == ["head", "zero-shot"]
    head = next(r for r in runs if r.approach == "head")
    assert head.metric == "f1_macro" and head.metric_value == measured and head.examples == 10
    assert Ledger().runs(kind="tune", approach="head")          # the tuning hook
    (pick,) = Ledger().picks()
    assert pick.advised == "zero-shot" and pick.winner == v["winner"] and pick.with_pilot
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Verdict with confidence" in report and "## Predicted vs measured" in report
    assert json.loads((tmp_path / "out" / "results.json").read_text())["verdict"] == v
