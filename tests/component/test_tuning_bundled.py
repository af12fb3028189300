"""LoRA on the real bundled SmolLM2 and the example QA data: eval loss must fall below the base model's."""
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.slow
def test_lora_on_smollm2_beats_the_base_model_on_held_out_questions(tmp_path):
    from peft import PeftModel

    from tunewise.core.models import load_causal_lm
    from tunewise.tuning import run_tuning
    from tunewise.tuning.config import TuneConfig

    out = tmp_path / "lora"
    run = run_tuning(TuneConfig(method="lora", train=EXAMPLES / "qa-train.jsonl", eval=EXAMPLES / "qa-eval.jsonl",
                                out=out, max_steps=8, batch_size=4, lr=1e-3, max_seq_len=128, device="cpu"))
    assert run.eval_loss_after < run.eval_loss_before
    base, _ = load_causal_lm("smollm2-135m-instruct")
    assert isinstance(PeftModel.from_pretrained(base, str(out)), PeftModel)
