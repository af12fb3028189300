"""The records compare writes round-trip, and a damaged or foreign one is one clear error on resume."""
import json

import pytest

from tunewise.core.errors import ConfigError
from tunewise.core.results import ApproachResult, CatchUp, Comparison, Drift, PredictionRow


def result(**extra) -> ApproachResult:
    return ApproachResult(metrics={"accuracy": 0.5}, costs={"latency_ms_p50": 3.0}, examples=4,
                          losses=[[1, 2.5]], drift=Drift(metrics={"accuracy": 0.25},
                                                         catch_up=CatchUp(seconds=1.5, how="re-index")), **extra)


def test_approach_result_round_trips(tmp_path):
    saved = result(per_class_f1={"a": 0.5}, device="cpu")
    saved.save(tmp_path / "a.json")
    assert ApproachResult.load(tmp_path / "a.json") == saved
    older = json.loads((tmp_path / "a.json").read_text())
    del older["device"]                     # written before the device was recorded: money unknown, not guessed
    (tmp_path / "b.json").write_text(json.dumps(older))
    assert ApproachResult.load(tmp_path / "b.json").device is None


def test_comparison_round_trips():
    comparison = Comparison(task="classification", model="m", primary_metric="accuracy",
                            approaches={"zero-shot": result()}, winner="zero-shot", recommendation="zero-shot",
                            advisor={"recommendation": None, "reasons": []}, machine={"cpus": 2}, date="today")
    assert Comparison.from_json(comparison.to_json()) == comparison


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d.pop("metrics"), "missing required key 'metrics'"),
    (lambda d: d.update(examples="many"), "key 'examples'"),
    (lambda d: d.update(version=99), "key 'version'"),
    (lambda d: d.update(surprise=1), "unknown key 'surprise'"),
])
def test_a_damaged_or_foreign_record_is_named(tmp_path, edit, fragment):
    data = json.loads(result().to_json())
    edit(data)
    (tmp_path / "a.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=fragment):
        ApproachResult.load(tmp_path / "a.json")


def test_a_resumed_compare_validates_what_it_reads(tiny_model, tmp_path):
    """An approaches/NAME.json edited into nonsense stops the resume with the file's name, not a KeyError."""
    from tests.component.test_eval_runner import write_plan
    from tunewise.eval.runner import run_compare

    plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot"])
    out = tmp_path / "out"
    run_compare(plan, out, max_new_tokens=2)
    (out / "results.json").unlink()
    (out / "approaches" / "zero-shot.json").write_text('{"metrics": 3}')
    with pytest.raises(ConfigError, match="zero-shot.json"):
        run_compare(plan, out, max_new_tokens=2)


def test_a_prediction_row_round_trips_and_older_rows_still_read():
    """A row of this version (with the chosen label's confidence and the tokens generated) round-trips; a
    row written before those were recorded reads back with none."""
    row = {"id": "e1", "input": "Where is my bag?", "reference": "lost-property", "prediction": "refund",
           "latency_ms": 12.5, "prompt_tokens": 30, "completion_tokens": 2, "ref_logprob": -2.3, "ref_tokens": 3,
           "confidence": 0.62}
    assert PredictionRow.model_validate(row).model_dump(mode="json", exclude_unset=True) == row
    older = {k: v for k, v in row.items() if k not in ("confidence", "completion_tokens")}
    assert PredictionRow.model_validate(older).confidence is None
    assert PredictionRow.model_validate(older).completion_tokens is None


@pytest.mark.parametrize("edit, fragment", [
    ({"confidence": 1.5}, "key 'confidence'"),
    ({"latency_ms": "fast"}, "key 'latency_ms'"),
    ({"surprise": 1}, "unknown key 'surprise'"),
])
def test_a_damaged_prediction_row_is_refused(edit, fragment):
    from pydantic import ValidationError

    from tunewise.core.schema import describe_validation_error

    row = {"id": "e1", "input": "q", "reference": "a", "prediction": "a", "latency_ms": 1.0, **edit}
    with pytest.raises(ValidationError) as caught:
        PredictionRow.model_validate(row)
    assert fragment in describe_validation_error(caught.value)
