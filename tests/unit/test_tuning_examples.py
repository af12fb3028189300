"""Tokenised examples: the prompt exactly as evaluation renders it, loss on the response only."""
import pytest

from tunewise.core.data import load_dataset
from tests.fakes import write_jsonl
from tunewise.tuning.examples import IGNORE, EpochLengthSampler, PadCollator, encode_classification, encode_sft


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from tunewise.core.models import load_tokenizer

    return load_tokenizer(str(tiny_model))


def test_sft_labels_cover_only_the_response_and_end_of_turn(tmp_path, tokenizer):
    data = load_dataset(write_jsonl(tmp_path / "d.jsonl", [{"prompt": "hello world", "completion": "Paris"}]))
    [example] = encode_sft(data, tokenizer, 128)
    prompt = tokenizer.apply_chat_template(data.examples[0].prompt_messages(), add_generation_prompt=True, tokenize=False)
    assert prompt == "<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n"
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert example["labels"][:n_prompt] == [IGNORE] * n_prompt
    answer = tokenizer.decode(example["input_ids"][n_prompt:])
    assert answer == "Paris<|im_end|>\n"
    assert example["labels"][n_prompt:] == example["input_ids"][n_prompt:]


def test_chat_and_alpaca_use_the_same_template(tmp_path, tokenizer):
    chat = [{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                          {"role": "assistant", "content": "hello"}]}]
    [example] = encode_sft(load_dataset(write_jsonl(tmp_path / "c.jsonl", chat)), tokenizer, 128)
    text = tokenizer.decode(example["input_ids"])
    assert text.startswith("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi")
    alpaca = [{"instruction": "Say", "input": "hi", "output": "hello"}]
    [example] = encode_sft(load_dataset(write_jsonl(tmp_path / "a.jsonl", alpaca)), tokenizer, 128)
    assert "user\nSay\n\nhi<|im_end|>" in tokenizer.decode(example["input_ids"])


def test_long_prompts_lose_their_start_not_the_response(tmp_path, tokenizer):
    rows = [{"prompt": "hello world " * 100, "completion": "Paris is the capital"}]
    [example] = encode_sft(load_dataset(write_jsonl(tmp_path / "d.jsonl", rows)), tokenizer, 40)
    assert len(example["input_ids"]) == 40
    kept = [t for t in example["labels"] if t != IGNORE]
    assert tokenizer.decode(kept).startswith("Paris is the capital")


def test_classification_maps_labels(tmp_path, tokenizer):
    rows = [{"text": "refunds", "label": "billing"}, {"text": "down", "label": "technical"}]
    data = load_dataset(write_jsonl(tmp_path / "c.jsonl", rows))
    encoded = encode_classification(data, tokenizer, {"billing": 0, "technical": 1}, 64)
    assert [e["labels"] for e in encoded] == [0, 1]


def test_collator_pads_to_the_longest_and_counts_padding():
    collator = PadCollator(pad_id=9)
    batch = collator([{"input_ids": [1, 2, 3], "labels": [IGNORE, 2, 3]}, {"input_ids": [4], "labels": [4]}])
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 9, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 2, 3], [4, IGNORE, IGNORE]]
    assert (collator.real_tokens, collator.pad_tokens) == (4, 2)
    assert collator.padding_fraction == pytest.approx(2 / 6)


def test_sampler_order_depends_only_on_seed_and_epoch():
    lengths = [5, 50, 7, 48, 6, 49, 8, 51]
    first, again = EpochLengthSampler(lengths, 2, seed=1), EpochLengthSampler(lengths, 2, seed=1)
    again.set_epoch(3)
    again.set_epoch(0)
    assert list(first) == list(again) and sorted(first) == list(range(8))
    first.set_epoch(1)
    orders = {tuple(first)} | {tuple(EpochLengthSampler(lengths, 2, seed=s)) for s in range(5)}
    assert len(orders) > 1



def test_sampler_groups_similar_lengths():
    import random

    lengths = [random.Random(i).randint(4, 200) for i in range(256)]
    order = list(EpochLengthSampler(lengths, 4, seed=0))
    spread = sum(max(b) - min(b) for b in ([lengths[i] for i in order[k:k + 4]] for k in range(0, 256, 4)))
    random_order = list(range(256))
    random.Random(0).shuffle(random_order)
    random_spread = sum(max(b) - min(b) for b in ([lengths[i] for i in random_order[k:k + 4]] for k in range(0, 256, 4)))
    assert spread < random_spread / 3
