"""DPO on the tiny model through TRL: the loss falls and the implicit reward learns the training pairs."""
import json

import pytest

from tests.fakes import write_jsonl
from tunewise.core.errors import DataError
from tunewise.tuning import run_tuning
from tunewise.tuning.config import TuneConfig

PAIRS = [{"prompt": f"What is the capital of France? {i}", "chosen": "Paris is the capital of France.",
          "rejected": "hello world this is a tiny tokenizer"} for i in range(8)]


def _config(tiny_model, data, out, **kw):
    base = dict(method="dpo", model=str(tiny_model), train=data, out=out, max_steps=10, batch_size=4, lr=1e-2,
                save_steps=5, device="cpu")
    return TuneConfig(**{**base, **kw})


def test_dpo_lowers_the_loss_and_raises_preference_accuracy(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    data = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "dpo"
    run = run_tuning(_config(tiny_model, data, out))
    assert run.completed and run.steps == 10 and run.method == "dpo"
    assert run.losses[-1].loss < run.losses[0].loss
    scores = json.loads((out / "preference.json").read_text())
    before, after = scores["before"], scores["after"]
    assert before["train_loss"] == pytest.approx(0.693147, abs=1e-4)   # policy == reference: ln 2
    assert after["train_loss"] < before["train_loss"]
    assert after["train_reward_accuracy"] > 0.5 > before["train_reward_accuracy"]
    assert after["train_reward_margin"] > 0 and scores["pairs"]["train"] == 8
    assert not (out / "checkpoints").exists()
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(out))


def test_dpo_refuses_a_prompt_longer_than_the_context(tiny_model, tmp_path):
    long = PAIRS[:2] + [{"prompt": "hello world " * 400, "chosen": "a", "rejected": "b"}]
    data = write_jsonl(tmp_path / "pairs.jsonl", long)
    with pytest.raises(DataError, match=r"pairs.jsonl:3: the prompt is \d+ tokens, longer than the model's context"):
        run_tuning(_config(tiny_model, data, tmp_path / "dpo"))
    assert not (tmp_path / "dpo").exists()


def test_cli_names_the_bad_row_in_one_line(tiny_model, tmp_path):
    from tests.fakes import assert_clean_failure, invoke

    rows = PAIRS[:2] + [{"prompt": "Hi?", "chosen": "Same reply.", "rejected": "Same reply."}]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    result = invoke(["tune", "--method", "dpo", "--train", str(data), "--out", str(tmp_path / "o"),
                     "--model", str(tiny_model), "--device", "cpu"])
    assert_clean_failure(result, "pairs.jsonl:3:", "chosen and rejected are the same reply")
    assert not (tmp_path / "o").exists()
