"""kill -9 mid-run, --resume, and the same final weights as an uninterrupted run; DDP on 2 CPU ranks."""
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.fakes import write_jsonl

ROWS = [{"prompt": f"What is the capital of France? {'hello ' * (i % 5)}{i}", "completion": "Paris."} for i in range(16)]


def _args(tiny_model, data, out, *extra):
    return [sys.executable, "-m", "tunewise.cli.main", "tune", "--model", str(tiny_model), "--train", str(data),
            "--out", str(out), "--batch-size", "2", "--lr", "0.01", "--seed", "3", "--device", "cpu", *extra]


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_killed_run_resumes_to_the_uninterrupted_result(tiny_model, tmp_path):
    import torch

    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    steps = ["--max-steps", "120", "--save-steps", "10", "lora_dropout=0.1"]
    subprocess.run(_args(tiny_model, data, tmp_path / "whole", *steps), check=True, capture_output=True)
    part = tmp_path / "part"
    proc = subprocess.Popen(_args(tiny_model, data, part, *steps), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not list(part.glob("checkpoints/checkpoint-*/trainer_state.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (part / "run.json").exists() and not (part / "adapter_model.safetensors").exists()
    again = subprocess.run(_args(tiny_model, data, part, *steps), capture_output=True, text=True)
    assert again.returncode != 0 and "already exists" in again.stderr  # no silent overwrite
    resumed = subprocess.run(_args(tiny_model, data, part, *steps, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole, done = _weights(tmp_path / "whole"), _weights(part)
    assert whole.keys() == done.keys()
    assert all(torch.allclose(whole[k], done[k]) for k in whole)
    assert json.loads((part / "run.json").read_text())["steps"] == 120


def test_two_cpu_ranks_with_gloo_end_with_identical_weights(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    out = tmp_path / "ddp"
    done = subprocess.run(_args(tiny_model, data, out, "--max-steps", "4", "--nproc", "2", "--json"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = json.loads((out / "ranks.json").read_text())
    assert ranks["world_size"] == 2 and len(ranks["weights_sha256"]) == 2
    assert ranks["weights_sha256"][0] == ranks["weights_sha256"][1]
    assert json.loads(done.stdout)["steps"] == 4
    assert (out / "adapter_model.safetensors").is_file()


@pytest.mark.gpu
def test_bf16_and_qlora_on_a_gpu(tiny_model, tmp_path):
    from tunewise.tuning import run_tuning
    from tunewise.tuning.config import TuneConfig

    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    for method in ("lora", "qlora"):
        run = run_tuning(TuneConfig(method=method, model=str(tiny_model), train=data, eval=data,
                                    out=tmp_path / method, max_steps=6, lr=1e-2))
        assert run.device == "cuda" and run.precision in ("bf16", "fp16")
        assert run.eval_loss_after < run.eval_loss_before
