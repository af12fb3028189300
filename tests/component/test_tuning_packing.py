"""Padding-free rows and padded batches with logits only at response positions give the full-logits
padded loss and gradients on the tiny real model (LoRA and full weights); warmup is a whole number of
steps from the ratio."""
from __future__ import annotations

import pytest

from tests.fakes import write_jsonl
from tunewise.core.data import load_dataset
from tunewise.tuning.examples import PadCollator, encode_sft
from tunewise.tuning.packing import PackedCollator, ResponsePadCollator, response_loss

ROWS = [{"prompt": "What is the capital of France?", "completion": "Paris is the capital of France."},
        {"prompt": "hello world this is a tiny tokenizer", "completion": "positive"},
        {"prompt": "Ticket priority is high when", "completion": "the payment system is down."}]


@pytest.fixture(scope="module")
def examples(tiny_model, tmp_path_factory):
    from tunewise.core.models import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model))
    data = load_dataset(write_jsonl(tmp_path_factory.mktemp("d") / "sft.jsonl", ROWS))
    return encode_sft(data, tokenizer, 128), tokenizer


def _model(tiny_model, lora: bool):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    if lora:
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False,
                                                 lora_dropout=0.0))
    return model


def _loss_and_grads(model, loss):
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return float(loss), grads


@pytest.mark.parametrize("lora", [True, False])
def test_packed_loss_and_gradients_equal_the_padded_batch(tiny_model, examples, lora):
    features, tokenizer = examples
    model = _model(tiny_model, lora)
    padded = PadCollator(tokenizer.pad_token_id)(features)
    expected, expected_grads = _loss_and_grads(model, model(**padded).loss)
    packed = PackedCollator()(features)
    labels = packed.pop("labels")
    assert "attention_mask" not in packed and packed["input_ids"].shape[0] == 1
    assert len(packed["logits_to_keep"]) == sum(x != -100 for f in features for x in f["labels"])
    outputs = model(**packed)
    assert outputs.logits.shape[1] == len(packed["logits_to_keep"])  # logits only where the loss reads
    got, grads = _loss_and_grads(model, response_loss(outputs, labels))
    assert got == pytest.approx(expected, abs=1e-5)
    assert grads.keys() == expected_grads.keys() and grads
    for name, grad in grads.items():
        assert (grad - expected_grads[name]).abs().max() < 1e-5, name


@pytest.mark.parametrize("lora", [True, False])
def test_padded_batch_with_response_logits_equals_the_full_logits_loss(tiny_model, examples, lora):
    features, tokenizer = examples
    model = _model(tiny_model, lora)
    expected, expected_grads = _loss_and_grads(model, model(**PadCollator(tokenizer.pad_token_id)(features)).loss)
    batch = ResponsePadCollator(tokenizer.pad_token_id)(features)
    labels = batch.pop("labels")
    width = batch["input_ids"].shape[1]
    assert 0 < len(batch["logits_to_keep"]) < width - 1  # prompt positions are not scored
    outputs = model(**batch)
    assert outputs.logits.shape[:2] == (len(features), len(batch["logits_to_keep"]))
    got, grads = _loss_and_grads(model, response_loss(outputs, labels))
    assert got == pytest.approx(expected, abs=1e-5)
    assert grads.keys() == expected_grads.keys() and grads
    for name, grad in grads.items():
        assert (grad - expected_grads[name]).abs().max() < 1e-5, name


def test_examples_do_not_see_each_other_when_packed(tiny_model, examples):
    import torch

    features, _ = examples
    model = _model(tiny_model, lora=False).eval()
    alone = PackedCollator()(features[1:2])
    together = PackedCollator()(features)
    with torch.no_grad():
        first = model(**{k: v for k, v in alone.items() if k != "labels"}).logits[0]
        shared = model(**{k: v for k, v in together.items() if k != "labels"}).logits[0]
    # the second example's kept positions come right after the first example's
    offset = int((torch.tensor(features[0]["labels"][1:]) != -100).sum())
    assert torch.allclose(shared[offset:offset + len(first)], first, atol=1e-5)


def test_packed_collator_counts_real_tokens(examples):
    features, _ = examples
    collator = PackedCollator()
    batch = collator(features)
    assert collator.real_tokens == sum(len(f["input_ids"]) for f in features) == batch["input_ids"].shape[1]
    assert batch["position_ids"][0, len(features[0]["input_ids"])] == 0  # each example restarts at 0
    assert collator.padding_fraction == 0.0


@pytest.mark.parametrize("ratio, steps, expected", [(0.0, 10, 0), (0.1, 10, 1), (0.25, 10, 3), (0.5, 7, 4)])
def test_warmup_is_a_whole_number_of_steps_from_the_ratio(ratio, steps, expected):
    from tunewise.tuning.common import warmup_steps
    from tunewise.tuning.config import TuneConfig

    config = TuneConfig(warmup_ratio=ratio, max_steps=steps, batch_size=4)
    assert warmup_steps(config, 100) == expected
    by_epochs = TuneConfig(warmup_ratio=ratio, epochs=2, batch_size=4, grad_accum=2)
    assert warmup_steps(by_epochs, 20) == -(-6 * ratio // 1)  # ceil(20/4 = 5 batches -> 3 steps x 2 epochs)
