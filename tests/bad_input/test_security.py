"""Safe by default: pickle weights and a model's own code need an explicit opt-in on the command line."""
import shutil

from tests.fakes import assert_clean_failure, invoke, write_jsonl

DATA = [{"text": "refund please", "label": "billing"}, {"text": "app crashes", "label": "technical"}] * 2


def _pickle_copy(tiny_model, tmp_path):
    """The tiny model re-saved as pytorch_model.bin only, as old checkpoints are."""
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save(load_file(tiny_model / "model.safetensors"), folder / "pytorch_model.bin")
    assert not list(folder.glob("*.safetensors"))
    return folder


def test_pickle_weights_are_refused_without_opt_in(tiny_model, tmp_path):
    model = _pickle_copy(tiny_model, tmp_path)
    train = write_jsonl(tmp_path / "t.jsonl", DATA)
    out = tmp_path / "head"
    args = ["tune", "--method", "head", "--model", str(model), "--train", str(train), "--out", str(out),
            "--max-steps", "1"]
    assert_clean_failure(invoke(args), "only pickle weights", "--allow-pickle")
    assert not out.exists()
    result = invoke(["--allow-pickle", *args])
    assert result.exit_code == 0, result.output
    assert (out / "run.json").is_file()


def test_remote_code_is_off_unless_asked(tiny_model, tmp_path, monkeypatch):
    from tunewise.core.models import load_policy

    assert load_policy() == {"trust_remote_code": False, "use_safetensors": True}
    invoke(["--trust-remote-code", "doctor", "--skip-models"])
    assert load_policy()["trust_remote_code"] is True
