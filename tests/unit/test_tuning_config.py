"""TuneConfig: defaults per method, layering, validation and the shipped configs."""
from pathlib import Path

import pytest
import yaml

from tunewise.core.errors import ConfigError
from tunewise.tuning.config import METHOD_DEFAULTS, METHODS, TuneConfig, build_config

CONFIGS = sorted((Path(__file__).parents[2] / "tuning" / "configs").glob("*.yaml"))
ACCELERATE = sorted((Path(__file__).parents[2] / "tuning" / "configs" / "accelerate").glob("*.yaml"))


def test_round_trip():
    config = TuneConfig(method="full", train="a.jsonl", out="o", train_top_layers=2, target_modules=["q_proj"])
    assert TuneConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("method", METHODS)
def test_defaults_fill_only_unset_fields(method):
    resolved = TuneConfig(method=method).resolved()
    for key, value in METHOD_DEFAULTS[method].items():
        assert getattr(resolved, key) == value
    assert TuneConfig(method=method, lr=0.123).resolved().lr == 0.123


def test_large_models_get_small_batches_and_accumulation():
    resolved = TuneConfig(method="lora").resolved(model_params_b=7.0)
    assert (resolved.batch_size, resolved.grad_accum) == (1, 8)
    assert TuneConfig(method="lora").resolved(model_params_b=0.135).batch_size == 4


def test_plan_tuning_block_keys_are_config_keys():
    assert TuneConfig.model_validate({"max_steps": 60, "lr": 2.0e-4, "batch_size": 8}).max_steps == 60


def test_flags_beat_overrides_beat_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: full\nlr: 0.1\nmax_steps: 3\nseed: 5\n")
    config = build_config(path, {"lr": 0.2, "seed": None}, ["max_steps=7"])
    assert (config.method, config.lr, config.max_steps, config.seed) == ("full", 0.2, 7, 5)


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: lora\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="unknown key 'learning_rate'"):
        build_config(path)


@pytest.mark.parametrize("bad", [{"method": "head", "task": "sft"}, {"method": "prompt-tuning", "task": "classification"}])
def test_inconsistent_method_and_task(bad):
    with pytest.raises(ConfigError, match="method"):
        build_config(None, bad)


def test_task_auto():
    assert TuneConfig(method="head").task_for("classification") == "classification"
    assert TuneConfig(method="lora").task_for("classification") == "sft"
    assert TuneConfig(method="lora", task="classification").task_for("classification") == "classification"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_is_valid_and_documented(path):
    config = build_config(path)
    assert config.method in path.stem.replace("prompt-tuning", "prompt-tuning")
    _assert_documented(path)
    for data in (config.train, config.eval):
        assert (Path(__file__).parents[2] / data).is_file(), data


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.name)
def test_shipped_accelerate_config_loads(path):
    from accelerate.commands.config.config_args import ClusterConfig

    assert ClusterConfig.from_yaml_file(str(path)).num_processes >= 2
    _assert_documented(path)


def _assert_documented(path: Path) -> None:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#") and any("tunewise tune" in line for line in lines[:4])
    for line in lines:
        if line and not line.startswith("#") and ":" in line and not line.rstrip().endswith(":"):
            assert "#" in line, f"{path.name}: key without a comment: {line}"
    assert yaml.safe_load(path.read_text())


def test_load_policy_travels_in_the_config_not_the_environment(tmp_path, monkeypatch):
    import os

    from tunewise.core.config import load_config, save_config
    from tunewise.core.models import LoadPolicy, set_load_policy
    from tunewise.tuning.config import TuneConfig

    assert TuneConfig().load_policy() == LoadPolicy()
    set_load_policy(LoadPolicy(allow_pickle=True))  # what `tunewise --allow-pickle` does
    spec = save_config(TuneConfig().with_load_policy(), tmp_path / "launch.yaml")
    set_load_policy(LoadPolicy())  # a launched worker starts with the safe default
    worker = load_config(TuneConfig, spec)
    assert worker.load_policy() == LoadPolicy(allow_pickle=True)
    assert TuneConfig(trust_remote_code=True).load_policy().trust_remote_code is True
    assert not any(name.startswith("TUNEWISE_ALLOW") or name.startswith("TUNEWISE_TRUST") for name in os.environ)


def test_a_batch_that_fits_only_with_gradient_checkpointing_switches_it_on():
    from tunewise.core.device import DeviceChoice
    from tunewise.core.errors import DeviceError
    from tunewise.tuning.config import TuneConfig
    from tunewise.tuning.preflight import estimated_peak_gb, fit_memory

    model = {"hidden_size": 576, "num_hidden_layers": 30, "vocab_size": 49152, "intermediate_size": 1536,
             "num_attention_heads": 9}
    config = TuneConfig(method="lora", batch_size=8, max_seq_len=512).resolved()
    probe = DeviceChoice("cpu", "fp32", "cpu", 1000.0)
    plain, checkpointed = (estimated_peak_gb(config, probe, model, c) for c in (False, True))
    assert checkpointed < plain
    roomy = DeviceChoice("cpu", "fp32", "cpu", plain * 1.01)
    assert fit_memory(config, roomy, model) is config
    tight = DeviceChoice("cpu", "fp32", "cpu", (plain + checkpointed) / 2)
    assert fit_memory(config, tight, model).gradient_checkpointing is True
    with pytest.raises(DeviceError, match="batch 8 x 512"):
        fit_memory(config, DeviceChoice("cpu", "fp32", "cpu", checkpointed * 0.9), model)
