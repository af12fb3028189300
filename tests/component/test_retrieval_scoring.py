"""Label scoring from one cached prompt equals the direct per-label computation, for a plain model,
a LoRA adapter and a prompt-tuning adapter (virtual tokens), on the tiny real model."""
from __future__ import annotations

import pytest

CONV = [{"role": "user", "content": "Ticket priority is high when the payment system is down."}]
LABELS = ["positive", "negative billing", "neutral", "Paris is the capital of France.", "technical",
          "account shipping", "hello", "world", "refunds", "tiny"]


@pytest.fixture(scope="module")
def generator(tiny_model):
    from tunewise.retrieval.generate import LocalGenerator

    return LocalGenerator.load(str(tiny_model))


def _both_paths(generator, batch_size):
    from tunewise.retrieval.scoring import score_after_shared_prompt, score_by_full_passes

    prompt = generator._ids(generator.render(CONV))
    replies = [generator._reply_ids(CONV, prompt, text) for text in LABELS]
    pad = generator.tokenizer.pad_token_id
    cached = score_after_shared_prompt(generator.model, prompt, replies, pad, batch_size)
    direct = score_by_full_passes(generator.model, prompt, replies, pad, batch_size)
    return cached, direct


def _assert_equal(cached, direct):
    assert [n for _, n in cached] == [n for _, n in direct]
    assert len({round(s, 3) for s, _ in direct}) > 1  # the labels really score differently
    for (a, _), (b, _) in zip(cached, direct):
        assert a == pytest.approx(b, abs=1e-4)


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_cached_prompt_scores_equal_per_label_passes(generator, batch_size):
    _assert_equal(*_both_paths(generator, batch_size))


def test_loglikelihood_uses_the_cached_path(generator):
    cached, _ = _both_paths(generator, generator.batch_size)
    _assert_equal(generator.loglikelihood(CONV, LABELS), cached)


def _peft_generator(tiny_model, tmp_path, peft_config):
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from tunewise.retrieval.generate import LocalGenerator

    torch.manual_seed(3)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model), peft_config)
    model.save_pretrained(tmp_path / "adapter")
    return LocalGenerator.load(str(tiny_model), adapter=tmp_path / "adapter")


def test_lora_adapter_scores_equal_per_label_passes(tiny_model, tmp_path, generator):
    from peft import LoraConfig

    adapted = _peft_generator(tiny_model, tmp_path, LoraConfig(r=2, target_modules=["q_proj", "v_proj"],
                                                               init_lora_weights=False))
    cached, direct = _both_paths(adapted, 4)
    _assert_equal(cached, direct)
    assert cached != _both_paths(generator, 4)[0]  # the adapter changes the scores


def test_prompt_tuning_scores_equal_per_label_passes(tiny_model, tmp_path, generator):
    from peft import PromptTuningConfig, PromptTuningInit

    adapted = _peft_generator(tiny_model, tmp_path, PromptTuningConfig(
        task_type="CAUSAL_LM", num_virtual_tokens=5, prompt_tuning_init=PromptTuningInit.RANDOM))
    cached, direct = _both_paths(adapted, 4)
    _assert_equal(cached, direct)
    assert cached != _both_paths(generator, 4)[0]  # the virtual tokens change the scores


FEW_SHOT = "Ticket: the payment system is down\nLabel: technical\nTicket: Refunds are processed\nLabel: billing\n"


@pytest.mark.parametrize("adapter", [None, "prompt-tuning"])
def test_prompts_sharing_a_prefix_reuse_it_and_score_the_same(tiny_model, tmp_path, adapter):
    from peft import PromptTuningConfig, PromptTuningInit

    from tunewise.retrieval.generate import LocalGenerator

    def make():
        if adapter is None:
            return LocalGenerator.load(str(tiny_model))
        return _peft_generator(tiny_model, tmp_path, PromptTuningConfig(
            task_type="CAUSAL_LM", num_virtual_tokens=5, prompt_tuning_init=PromptTuningInit.RANDOM))

    warm = make()
    convs = [[{"role": "system", "content": FEW_SHOT}, {"role": "user", "content": f"Ticket: {text}"}]
             for text in ("hello world", "Paris is the capital of France.", "hello world")]
    for conv in convs:
        reused = warm.loglikelihood(conv, LABELS[:4])
        fresh = make().loglikelihood(conv, LABELS[:4])
        _assert_equal(reused, fresh)
    shared = warm.prompt_cache.shared_length(warm._ids(warm.render(convs[0])))
    assert shared > len(warm._ids(FEW_SHOT))  # the demonstrations were not encoded again


def test_answering_with_references_scores_them_from_the_same_prompt_pass(generator):
    """generate(references=...) answers exactly as generate() does and gives each reference the score a
    separate loglikelihood pass gives it, across a left-padded batch of prompts of different lengths
    (fp32: equal to 1e-4)."""
    conversations = [[{"role": "user", "content": " ".join(["word"] * n) + " What is the fare?"}]
                     for n in (1, 9, 30, 4)]
    references = ["Two pounds.", "It costs nothing at all on Sundays", "x", "The fare is printed on the ticket."]
    plain = generator.generate(conversations, max_new_tokens=6)
    scored = generator.generate(conversations, max_new_tokens=6, references=references)
    assert [g.text for g in scored] == [g.text for g in plain]
    assert [g.reference is None for g in plain] == [True] * 4
    separate = [generator.loglikelihood(c, [r])[0] for c, r in zip(conversations, references)]
    assert len({round(s, 2) for s, _ in separate}) == 4                     # they really differ
    for got, want in zip(scored, separate):
        assert got.reference[1] == want[1] and got.reference[0] == pytest.approx(want[0], abs=1e-4)


def test_many_prompts_scored_together_equal_one_at_a_time(generator):
    """loglikelihoods: prompts of different lengths in one left-padded pass, each with its own number of
    continuations, score as loglikelihood does prompt by prompt (fp32: equal to 1e-4)."""
    items = [([{"role": "user", "content": " ".join(["word"] * n) + " Which city?"}], LABELS[:k])
             for n, k in ((1, 4), (12, 2), (5, 1), (30, 3))]
    # and prompts that share a long start (fixed demonstrations), encoded once for the batch
    items += [([{"role": "system", "content": FEW_SHOT}, {"role": "user", "content": f"Ticket: {text}"}], LABELS[:5])
              for text in ("hello world", "Paris is the capital of France.", "the payment system is down again")]
    together = generator.loglikelihoods(items)
    assert [len(s) for s in together] == [4, 2, 1, 3, 5, 5, 5]
    alone = [generator.loglikelihood(conversation, continuations) for conversation, continuations in items]
    assert len({round(score, 2) for scores in alone for score, _ in scores}) > 5     # they really differ
    for got, want in zip(together, alone):
        assert [n for _, n in got] == [n for _, n in want]
        assert [s for s, _ in got] == pytest.approx([s for s, _ in want], abs=1e-4)


def test_short_prompts_share_bigger_batches_and_batch_size_one_stays_one(generator):
    lengths = [20] * 40 + [600] * 10
    order = list(range(50))
    # 32 short prompts (the most a batch takes), the other 8, then long ones 8 at a time (9 exceed the tokens)
    assert [len(b) for b in generator._batches(order, lengths)] == [32, 8, 8, 2]
    assert sum(generator._batches(order, lengths), []) == order
    generator.batch_size, saved = 1, generator.batch_size
    try:
        assert all(len(b) == 1 for b in generator._batches(order, lengths))
    finally:
        generator.batch_size = saved


@pytest.mark.slow
def test_a_prompt_tuned_model_generates_what_its_own_forward_pass_predicts(tmp_path):
    """Greedy answers of a prompt-tuned model (the bundled one: the tiny model's answers do not depend on
    what came before them), batched and left-padded, equal a token-at-a-time loop over peft's own
    forward pass (the virtual tokens prepended once, as in training). peft's generate() does not: under
    transformers 5 it re-injects the virtual tokens at every step."""
    import torch
    from peft import PromptTuningConfig, PromptTuningInit, get_peft_model

    from tunewise.core.models import load_causal_lm
    from tunewise.retrieval.generate import LocalGenerator

    model, _ = load_causal_lm("smollm2-135m-instruct")
    torch.manual_seed(3)
    get_peft_model(model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=5,
                                             prompt_tuning_init=PromptTuningInit.RANDOM)).save_pretrained(tmp_path)
    adapted = LocalGenerator.load("smollm2-135m-instruct", adapter=tmp_path)
    convs = [[{"role": "user", "content": "What is the capital of France?"}],
             [{"role": "user", "content": "Name a colour."}]]                # two lengths: left padding
    tok = adapted.tokenizer
    tok.padding_side = "left"
    inputs = tok([adapted.render(c) for c in convs], return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        output = adapted._generate_ids(dict(inputs), max_new_tokens=8)
        for row, conv in zip(output[:, inputs["input_ids"].shape[1]:].tolist(), convs):
            ids, new = adapted._ids(adapted.render(conv)), []
            while len(new) < 8 and tok.eos_token_id not in new:
                new.append(int(adapted.model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax()))
            assert row[:len(new)] == new and len(new) > 2
