"""Training that goes wrong stops with the step and the likely cause, keeps the last good checkpoint and
saves nothing as a result; absurd settings warn before training starts."""
import json
import math
from types import SimpleNamespace

import pytest

from tests.fakes import assert_clean_failure, invoke, write_jsonl
from tunewise.tuning.guards import TrainingDivergedError, divergence_guard, warn_unsafe_settings

SFT = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(8)]


def test_an_absurd_learning_rate_warns_then_stops_the_run(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    out = tmp_path / "run"
    result = invoke(["tune", "--model", str(tiny_model), "--train", str(data), "--out", str(out),
                     "--max-steps", "4", "--lr", "1e9"])
    line = assert_clean_failure(result, "training diverged at step", "learning rate 1e+09", "lower it")
    assert "warning: learning rate 1e+09 is over 100x away from the lora default" in result.output
    assert line and not (out / "run.json").exists() and not (out / "adapter_model.safetensors").exists()


def test_sane_settings_do_not_warn():
    config = SimpleNamespace(method="lora", lr=2e-4, epochs=3.0)
    assert warn_unsafe_settings(config, 2e-4) == []
    assert len(warn_unsafe_settings(SimpleNamespace(method="full", lr=1e-12, epochs=500.0), 2e-5)) == 2


def _state(step):
    return SimpleNamespace(global_step=step)


@pytest.mark.parametrize("logs, fragment", [
    ({"loss": math.nan}, "the loss is nan"),
    ({"loss": math.inf}, "the loss is inf"),
    ({"grad_norm": math.nan}, "the grad norm is nan"),
    ({"loss": 40.0}, "the loss rose from 2 to 40"),
    ({"train_loss": 9.5}, "the train loss rose from 2 to 9.5"),
])
def test_logged_values_that_break_stop_with_the_step(tmp_path, logs, fragment):
    guard = divergence_guard(1e-3, tmp_path)
    guard.on_log(None, _state(1), None, logs={"loss": 2.0, "grad_norm": 1.0})
    guard.on_log(None, _state(5), None, logs={"loss": 2.5})
    with pytest.raises(TrainingDivergedError, match=f"step 7: {fragment}.*learning rate 0.001.*--lr 0.0001"):
        guard.on_log(None, _state(7), None, logs=logs)


def test_a_checkpoint_with_broken_weights_is_dropped_and_the_last_good_one_kept(tmp_path):
    import torch

    model = torch.nn.Linear(4, 4)
    guard = divergence_guard(1e-3, tmp_path)
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
    guard.on_save(None, _state(2), None, model=model)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(TrainingDivergedError, match="step 4: weight weight holds NaN/inf"):
        guard.on_save(None, _state(4), None, model=model)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-2"]
    with pytest.raises(TrainingDivergedError, match="step 4"):
        guard.on_train_end(None, _state(4), None, model=model)


def test_compare_records_a_diverged_approach_as_failed_and_finishes_the_others(tiny_model, tmp_path):
    from tests.component.test_eval_runner import write_plan

    plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "lora"],
                      tuning={"max_steps": 3, "batch_size": 2, "lr": 1e9})
    out = tmp_path / "out"
    result = invoke(["compare", str(plan), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert list(results["approaches"]) == ["zero-shot"] and results["winner"] == "zero-shot"
    assert "training diverged at step" in results["failed"]["lora"]
    assert "learning rate 1e+09" in results["failed"]["lora"]
    assert not (out / "approaches" / "lora.json").exists()
