"""Padding-free batches and a loss that reads only the response positions, for causal-LM tuning.

`PackedCollator` lays a batch's examples end to end in one row with position ids restarting at 0 for
each example and no attention mask (what transformers' `DataCollatorWithFlattening` and TRL's
padding-free mode do): transformers' attention then keeps each example to itself (it reads the
boundaries from the position ids when there is neither a mask nor a KV cache, hence `use_cache=False`),
and no compute is spent on padding. It also hands the model `logits_to_keep`, the positions whose next token is a
response token, so the LM head (49k x 576 for SmolLM2) and its fp32 log-softmax run on those positions
only instead of on every prompt token; `response_loss` is the cross-entropy over exactly those logits.
Both are public Trainer hooks (`data_collator`, `compute_loss_func`); no Trainer method is overridden.
"""
from __future__ import annotations

from tunewise.tuning.examples import IGNORE


class PackedCollator:
    """One row per batch: input_ids, position_ids, causal-LM labels, and the positions to score."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.real_tokens = 0

    padding_fraction = 0.0  # nothing is padded

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids, positions, labels = [], [], []
        for f in features:
            ids += f["input_ids"]
            positions += range(len(f["input_ids"]))
            labels += f["labels"]
        self.real_tokens += len(ids)
        labels_t = torch.tensor([labels])
        # Position i predicts token i + 1; keep i where that token is part of a response.
        keep = torch.nonzero(labels_t[0, 1:] != IGNORE).flatten()
        return {"input_ids": torch.tensor([ids]), "position_ids": torch.tensor([positions]),
                "labels": labels_t, "logits_to_keep": keep, "use_cache": False}


def response_loss(outputs, labels, num_items_in_batch=None):
    """Mean token cross-entropy over the kept positions (summed, then divided by the response tokens
    of the whole accumulated batch when the Trainer gives that count, as its own causal-LM loss does)."""
    import torch

    targets = labels[0, 1:]
    targets = targets[targets != IGNORE]
    logits = outputs.logits[0]
    total = torch.nn.functional.cross_entropy(logits.float(), targets.to(logits.device), reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else max(len(targets), 1)
    return total / count
