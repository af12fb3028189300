"""`tunewise tune` / `tunewise export` as a user runs them."""
import json

from tests.fakes import invoke, write_jsonl

ROWS = [{"instruction": "Name the capital of France.", "input": str(i), "output": "Paris."} for i in range(8)]


def test_tune_json_is_clean_on_stdout_and_export_merges(tiny_model, tmp_path):
    from click.testing import CliRunner

    from tunewise.cli.main import cli

    data = write_jsonl(tmp_path / "alpaca.jsonl", ROWS)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["tune", "--model", str(tiny_model), "--train", str(data), "--eval", str(data),
                                      "--out", str(out), "--max-steps", "3", "--lr", "0.01", "--target-modules",
                                      "q_proj,v_proj", "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["steps"] == 3 and run["config"]["target_modules"] == ["q_proj", "v_proj"]
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    merged = invoke(["export", str(out), "--out", str(tmp_path / "merged"), "--merge"])
    assert merged.exit_code == 0, merged.output
    assert (tmp_path / "merged" / "model.safetensors").is_file()


def test_tune_from_a_yaml_config_with_overrides(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "alpaca.jsonl", ROWS)
    config = tmp_path / "c.yaml"
    config.write_text(f"method: prompt-tuning\nmodel: {tiny_model}\ntrain: {data}\nout: {tmp_path / 'pt'}\n"
                      "max_steps: 2\nlr: 0.1\n")
    result = invoke(["tune", "--config", str(config), "num_virtual_tokens=3"])
    assert result.exit_code == 0, result.output
    assert "prompt-tuning" in result.output and "eval loss" in result.output
    saved = json.loads((tmp_path / "pt" / "run.json").read_text())
    assert saved["config"]["num_virtual_tokens"] == 3 and saved["method"] == "prompt-tuning"
