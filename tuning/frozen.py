"""The classifier head's training data: the frozen base model's last-token states, computed once.

The head's base never changes, so the Trainer re-running it over every batch of every epoch recomputed the
same states: a head run of 40 steps at batch 8 over 75 labels encoded each message four times, and the
pilot could not afford the head's whole schedule. Here each example is encoded once (length-sorted,
right-padded batches, no gradients, in the run's precision) and the Trainer trains only the linear
`score` layer on the stored states, with the same loss, optimizer, schedule and batches: a head trained
either way is the same model, saved and loaded the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

FEATURE_BATCH = 16


@dataclass
class FeatureCollator:
    """Stacks stored states and labels; counts the tokens they stand for, so tokens/s stays comparable."""

    real_tokens: int = 0

    def reset(self) -> None:
        self.real_tokens = 0

    @property
    def padding_fraction(self) -> float:
        return 0.0

    def __call__(self, features: list[dict]) -> dict:
        import torch

        self.real_tokens += sum(len(f["input_ids"]) for f in features)
        return {"features": torch.stack([f["features"] for f in features]),
                "labels": torch.tensor([f["labels"] for f in features])}


def head_only(score):
    """The trainable part of a sequence classifier as a model of its own: `score` over stored states,
    with the classifier's cross-entropy loss (its state dict keys stay `score.*`)."""
    import torch

    class HeadOnly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.score = score

        def forward(self, features, labels=None):
            logits = self.score(features.to(self.score.weight.dtype))
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits.float(), labels)
            return {"loss": loss, "logits": logits}

    return HeadOnly()


def last_token_states(base, rows: list[dict], device, pad_id: int) -> list:
    """The base model's final hidden state at each row's last token (what the classifier's `score` reads),
    under the run's precision; rows are encoded in length-sorted, right-padded batches (a causal model's
    state at a token does not see the padding after it)."""
    import torch

    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    states: list = [None] * len(rows)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(device.precision)
    autocast = torch.autocast("cuda" if device.is_cuda else "cpu", dtype=dtype, enabled=dtype is not None)
    for start in range(0, len(order), FEATURE_BATCH):
        chunk = order[start:start + FEATURE_BATCH]
        lengths = [len(rows[i]["input_ids"]) for i in chunk]
        width = max(lengths)
        ids = torch.tensor([rows[i]["input_ids"] + [pad_id] * (width - n) for i, n in zip(chunk, lengths)])
        mask = torch.tensor([[1] * n + [0] * (width - n) for n in lengths])
        with torch.inference_mode(), autocast:
            hidden = base(input_ids=ids.to(base.device), attention_mask=mask.to(base.device)).last_hidden_state
        for row, (i, n) in enumerate(zip(chunk, lengths)):
            states[i] = hidden[row, n - 1].detach().float().cpu().clone()
    return states


def with_states(rows: list[dict], states: list) -> list[dict]:
    return [{"input_ids": row["input_ids"], "labels": row["labels"], "features": state}
            for row, state in zip(rows, states)]
