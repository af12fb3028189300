"""Data -> tokenised training examples, and the padding collator that pads each batch only to its
own longest example (with length-grouped batches, that removes nearly all padding compute)."""
from __future__ import annotations

from tunewise.core.data import Dataset, Example
from tunewise.core.errors import DataError

IGNORE = -100  # label value the loss skips


def render_prompt(tokenizer, example: Example, system: str | None = None) -> str:
    """Exactly what evaluation sends: `prompt_messages()` through the chat template, ready to answer."""
    messages = example.prompt_messages(system)
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return "\n".join(m["content"] for m in messages) + "\n"


def render_response(tokenizer, example: Example, prompt: str, system: str | None = None) -> str:
    """The response plus the template's own end-of-turn text (e.g. `<|im_end|>\\n`)."""
    if tokenizer.chat_template:
        messages = example.prompt_messages(system) + [{"role": "assistant", "content": example.response}]
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if full.startswith(prompt):
            return full[len(prompt):]
    return example.response + (tokenizer.eos_token or "")


def encode_sft(data: Dataset, tokenizer, max_len: int, system: str | None = None) -> list[dict]:
    """input_ids/labels per example with the loss on response tokens only.

    Over-long examples keep the whole response where possible and drop the start of the prompt.
    """
    out = []
    for example in data.examples:
        prompt = render_prompt(tokenizer, example, system)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(render_response(tokenizer, example, prompt, system), add_special_tokens=False)["input_ids"]
        if len(prompt_ids) + len(response_ids) > max_len:
            keep = max(max_len - len(response_ids), max_len // 2)
            prompt_ids = prompt_ids[-keep:]
            response_ids = response_ids[: max_len - len(prompt_ids)]
        ids = prompt_ids + response_ids
        out.append({"input_ids": ids, "labels": [IGNORE] * len(prompt_ids) + response_ids})
    if not out:
        raise DataError(data.path, "no examples to train on")
    return out


def encode_classification(data: Dataset, tokenizer, label_index: dict[str, int], max_len: int) -> list[dict]:
    out = []
    for example in data.examples:
        ids = tokenizer(example.prompt, add_special_tokens=False, truncation=True, max_length=max_len)["input_ids"]
        if not ids:
            raise DataError(data.path, "field 'text' is empty", example.line)
        out.append({"input_ids": ids, "labels": label_index[example.label]})
    return out


class PadCollator:
    """Right-pads a batch to its longest member and counts real vs padding tokens (for tokens/s)."""

    def __init__(self, pad_id: int, pad_to: int | None = None):
        self.pad_id = pad_id
        self.pad_to = pad_to  # a fixed length, only for the padded baseline of the benchmark
        self.reset()

    def reset(self) -> None:
        self.real_tokens = 0
        self.pad_tokens = 0

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = self.pad_to or max(len(f["input_ids"]) for f in features)
        ids, mask, labels = [], [], []
        for f in features:
            n = len(f["input_ids"])
            ids.append(f["input_ids"] + [self.pad_id] * (width - n))
            mask.append([1] * n + [0] * (width - n))
            if isinstance(f["labels"], list):
                labels.append(f["labels"] + [IGNORE] * (width - n))
            else:
                labels.append(f["labels"])
            self.real_tokens += n
            self.pad_tokens += width - n
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}

    @property
    def padding_fraction(self) -> float:
        total = self.real_tokens + self.pad_tokens
        return self.pad_tokens / total if total else 0.0


class EpochLengthSampler:
    """Length-grouped order (batches of similar length, little padding) drawn from (seed, epoch) alone.

    The Trainer's own length-grouped sampler draws from the global RNG, whose state at an epoch's start
    differs after a resume; seeding by epoch makes a resumed run see exactly the same batches.
    """

    def __init__(self, lengths: list[int], group_size: int, seed: int):
        self.lengths = lengths
        self.group_size = group_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        import torch
        from transformers.trainer_pt_utils import get_length_grouped_indices

        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.group_size, generator=generator))
