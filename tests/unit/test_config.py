from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic import Field

from tunewise.core.config import load_config, parse_overrides, save_config
from tunewise.core.errors import ConfigError
from tunewise.core.schema import ApiModel, Plan, Record, TrainingRun


class Settings(Record):
    lr: float = Field(default=1e-4, gt=0)
    steps: int = 10
    lora: dict = Field(default_factory=dict)


def test_defaults_then_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.001\nsteps: 5\n")
    config = load_config(Settings, path, ["steps=7", "lora.r=8"])
    assert (config.lr, config.steps, config.lora) == (0.001, 7, {"r": 8})


def test_parse_overrides_types():
    assert parse_overrides(["a=1", "b=x", "c=[1, 2]", "d.e=true"]) == {"a": 1, "b": "x", "c": [1, 2], "d": {"e": True}}


@pytest.mark.parametrize("text,overrides,message", [
    ("lrr: 0.1\n", [], "c.yaml: unknown key 'lrr'"),
    ("lr: -1\n", [], "c.yaml: key 'lr': Input should be greater than 0"),
    ("lr: [\n", [], "c.yaml:2: invalid YAML"),
    ("- 1\n", [], "c.yaml: expected a mapping"),
    ("", [], "c.yaml: file is empty"),
    ("lr: 0.1\n", ["steps"], "override 'steps' is not of the form key=value"),
    ("lr: 0.1\n", ["steps=many"], "key 'steps': Input should be a valid integer"),
])
def test_config_errors_name_the_key(tmp_path, text, overrides, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(Settings, path, overrides)
    assert message in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_config(Settings, tmp_path / "nope.yaml")


def test_resolved_config_is_saved_and_reloads(tmp_path):
    config = load_config(Settings, None, ["lr=0.5"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(Settings, tmp_path / "config.yaml") == config


def test_plan_round_trip_and_relative_paths(tmp_path):
    plan = Plan(task="qa", train=Path("train.jsonl"), eval=Path("eval.jsonl"), approaches=["rag", "lora"],
                model=ApiModel(base_url="http://127.0.0.1:8000/v1", model="m"))
    assert Plan.from_json(plan.to_json()) == plan
    resolved = plan.resolve_paths(tmp_path)
    assert resolved.train == tmp_path / "train.jsonl"


def test_plan_rejects_unknown_approach():
    with pytest.raises(ValidationError, match="unknown approach 'magic'"):
        Plan(task="qa", train="t", eval="e", approaches=["magic"])
    with pytest.raises(ValidationError, match="its api- variant runs when the plan has an api_model"):
        Plan(task="qa", train="t", eval="e", approaches=["api-rag"])


def test_training_run_round_trip(tmp_path):
    run = TrainingRun(method="lora", model="m", output_dir=tmp_path, config={"lr": 1e-4}, data_hash="ab",
                      seed=0, versions={"torch": "2"}, device="cpu", precision="fp32", losses=[{"step": 1, "loss": 2.0}])
    run.save(tmp_path / "run.json")
    assert TrainingRun.load(tmp_path / "run.json") == run


def test_api_model_url_is_checked():
    with pytest.raises(ValidationError, match="must start with http"):
        ApiModel(base_url="localhost:8000", model="m")
