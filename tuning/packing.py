"""Loss on response positions only, for causal-LM tuning, with padded or padding-free batches.

Both collators hand the model `logits_to_keep`: the positions whose next token is a response token (in
any row of the batch), so the LM head (49k x 576 for SmolLM2) and its fp32 log-softmax run on those
positions only instead of on every prompt token; `response_loss` is the cross-entropy over exactly
those logits. Both are public Trainer hooks (`data_collator`, `compute_loss_func`); no Trainer method
is overridden.

`ResponsePadCollator` (the default) right-pads each batch to its longest member, as `PadCollator` does.
`PackedCollator` (`packing: true`) lays a batch's examples end to end in one row with position ids
restarting at 0 for each example and no attention mask (what transformers' `DataCollatorWithFlattening`
and TRL's padding-free mode do): transformers' attention then keeps each example to itself (it reads the
boundaries from the position ids when there is neither a mask nor a KV cache, hence `use_cache=False`),
and no compute is spent on padding. It pays only with an attention kernel for variable-length rows
(flash-attention on a GPU): elsewhere attention runs over the whole row, masked, so a batch of 8 x 512
tokens becomes one 4,096-token row with 8x the attention work and memory (LoRA on the 135M model on
the CPU: bench/RESULTS.md).
"""
from __future__ import annotations

from tunewise.tuning.examples import IGNORE, PadCollator


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
        return {"input_ids": torch.tensor([ids]), "position_ids": torch.tensor([positions]),
                "labels": labels_t, "logits_to_keep": response_positions(labels_t), "use_cache": False}


class ResponsePadCollator(PadCollator):
    """Right-padded batches (as `PadCollator`) that also name the positions whose logits the loss reads."""

    def __call__(self, features: list[dict]) -> dict:
        batch = super().__call__(features)
        batch["logits_to_keep"] = response_positions(batch["labels"])
        return batch


def response_positions(labels):
    """Positions i whose next token (i + 1) is a response token in at least one row of the batch."""
    import torch

    return torch.nonzero((labels[:, 1:] != IGNORE).any(0)).flatten()


def response_loss(outputs, labels, num_items_in_batch=None):
    """Mean token cross-entropy over the kept positions (summed, then divided by the response tokens
    of the whole accumulated batch when the Trainer gives that count, as its own causal-LM loss does)."""
    import torch

    targets = labels[:, 1:][:, response_positions(labels)]  # [rows, kept]; IGNORE where a row has no response
    logits = outputs.logits
    total = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                              targets.reshape(-1).to(logits.device), ignore_index=IGNORE,
                                              reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else max(int((targets != IGNORE).sum()), 1)
    return total / count
