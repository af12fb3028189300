"""Bad input to `tune`/`export`: one clear `Error:` line, non-zero exit, nothing written or damaged."""
import pytest

from tests.fakes import assert_clean_failure, invoke, write_jsonl

SFT = [{"prompt": "hi", "completion": "hello"}] * 3


def _tune(tiny_model, *args):
    return invoke(["tune", "--model", str(tiny_model), "--max-steps", "1", *args])


def test_missing_training_file(tiny_model, tmp_path):
    result = _tune(tiny_model, "--train", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert_clean_failure(result, "nope.jsonl", "file not found")
    assert not (tmp_path / "o").exists()


def test_broken_line_is_named(tiny_model, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a", \n')
    assert_clean_failure(_tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o")), "d.jsonl:2", "broken JSON")
    assert not (tmp_path / "o").exists()


def test_missing_out(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    assert_clean_failure(_tune(tiny_model, "--train", str(data)), "'out'")


def test_existing_output_is_not_overwritten(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_clean_failure(_tune(tiny_model, "--train", str(data), "--out", str(out)), str(out), "--force")
    assert (out / "keep.txt").read_text() == "mine"


def test_qlora_on_cpu_is_refused_before_writing(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--method", "qlora", "--device", "cpu", "--train", str(data), "--out", str(tmp_path / "o"))
    assert_clean_failure(result, "QLoRA needs a CUDA GPU")
    assert not (tmp_path / "o").exists()


def test_head_needs_classification_data(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--method", "head", "--train", str(data), "--out", str(tmp_path / "o"))
    assert_clean_failure(result, "d.jsonl", "classification records")
    assert not (tmp_path / "o").exists()


def test_eval_label_unseen_in_training(tiny_model, tmp_path):
    train = write_jsonl(tmp_path / "t.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}])
    evalf = write_jsonl(tmp_path / "e.jsonl", [{"text": "a", "label": "x"}, {"text": "c", "label": "z"}])
    result = _tune(tiny_model, "--method", "head", "--train", str(train), "--eval", str(evalf), "--out", str(tmp_path / "o"))
    assert_clean_failure(result, "e.jsonl:2", "label 'z'")


def test_unknown_config_key_is_named(tiny_model, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("method: lora\nlora_rank: 8\n")
    assert_clean_failure(invoke(["tune", "--config", str(config)]), "c.yaml", "unknown key 'lora_rank'")


def test_bad_override_value_is_named(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o"), "lora_dropout=lots")
    assert_clean_failure(result, "lora_dropout")
    assert not (tmp_path / "o").exists()


def test_resume_without_checkpoint(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    (tmp_path / "o").mkdir()
    result = _tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o"), "--resume")
    assert_clean_failure(result, "no checkpoint to resume from")


def test_too_many_top_layers_leaves_no_final_model(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    out = tmp_path / "o"
    result = _tune(tiny_model, "--method", "full", "--train-top-layers", "9", "--train", str(data), "--out", str(out))
    assert_clean_failure(result, "train_top_layers is 9", "only 2 layers")
    assert not (out / "run.json").exists() and not (out / "model.safetensors").exists()


def test_accelerate_on_cpu_is_refused(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o"), "--nproc", "2",
                   "--launcher", "accelerate", "--device", "cpu")
    assert_clean_failure(result, "--launcher torchrun")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("setup,fragment", [
    (lambda p: None, "adapter folder not found"),
    (lambda p: p.mkdir(), "no adapter_config.json"),
    (lambda p: (p.mkdir(), (p / "adapter_config.json").write_text('{"peft_type": "PROMPT_TUNING"}')), "cannot be merged"),
])
def test_export_refuses_what_it_cannot_merge(tmp_path, setup, fragment):
    source = tmp_path / "adapter"
    setup(source)
    result = invoke(["export", str(source), "--out", str(tmp_path / "m"), "--merge"])
    assert_clean_failure(result, fragment)
    assert not (tmp_path / "m").exists()


def test_export_needs_merge_flag(tmp_path):
    result = invoke(["export", str(tmp_path), "--out", str(tmp_path / "m")])
    assert_clean_failure(result, "--merge")


def test_max_seq_len_beyond_the_models_context_is_refused(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o"), "--max-seq-len", "1024")
    assert_clean_failure(result, "max_seq_len 1024", "context of 512 tokens")
    assert not (tmp_path / "o").exists()


def test_batch_that_cannot_fit_in_memory_is_refused(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o"), "--device", "cpu",
                   "--method", "full", "--batch-size", "2000000", "--max-seq-len", "512")
    assert_clean_failure(result, "batch 2000000 x 512", "--batch-size")
    assert not (tmp_path / "o").exists()


def test_precision_this_device_cannot_run_is_refused(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o"), "--device", "cpu",
                   "--precision", "fp16")
    assert_clean_failure(result, "fp16", "CUDA")
    assert not (tmp_path / "o").exists()


def test_bf16_on_a_cpu_without_native_bf16_is_refused(tiny_model, tmp_path, monkeypatch):
    from tunewise.core import device

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    result = _tune(tiny_model, "--train", str(data), "--out", str(tmp_path / "o"), "--device", "cpu",
                   "--precision", "bf16")
    assert_clean_failure(result, "bf16", "fp32")
    assert not (tmp_path / "o").exists()
