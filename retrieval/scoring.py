"""Log-likelihood of label replies after one shared prompt, for a local causal LM (plain or peft).

`score_after_shared_prompt` encodes the prompt once, keeps its key/values, and scores every reply from
that cache: with 6 labels and a 1,000-token prompt that is one long pass instead of six. The prompt pass
goes through the model as given (so peft prompt tuning prepends its virtual tokens, and LoRA layers are
active); the reply pass goes through the underlying model, which carries the same LoRA layers but does
not prepend the virtual tokens a second time.

A `PromptCache` carries the last prompt's key/values from one call to the next, so a few-shot prompt
whose demonstrations are the same for every example is encoded once: each later prompt runs only the
tokens after the prefix it shares with the previous one.

`score_by_full_passes` is the direct computation (prompt + reply through the model, once per reply);
tests and bench/ use it as the reference the cached path must equal.
"""
from __future__ import annotations

import copy
from typing import Sequence

Score = tuple[float, int]


class PromptCache:
    """The token ids and key/values of the last prompt encoded (a private copy, never extended)."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.cache = None
        self.offset = 0  # cache positions before the prompt's first token (peft virtual tokens)

    def shared_length(self, ids: list[int]) -> int:
        """How many leading tokens `ids` shares with the cached prompt, leaving at least one to run."""
        if self.cache is None:
            return 0
        limit = min(len(self.ids), len(ids) - 1)
        n = 0
        while n < limit and self.ids[n] == ids[n]:
            n += 1
        return n


def score_after_shared_prompt(model, prompt_ids: list[int], replies: Sequence[list[int]], pad_id: int,
                              batch_size: int = 8, reuse: PromptCache | None = None) -> list[Score]:
    """Sum of log-probabilities of each reply's tokens after `prompt_ids`, and the reply's length."""
    import torch

    logits, cache = _encode_prompt(model, prompt_ids, reuse)
    first_token = torch.log_softmax(logits.float(), dim=-1)
    scores: list[Score] = []
    starts = range(0, len(replies), batch_size)
    for number, start in enumerate(starts):
        batch = replies[start:start + batch_size]
        shared = cache if number == len(starts) - 1 else copy.deepcopy(cache)
        scores.extend(_score_from_cache(model, shared, first_token, batch, pad_id))
    return scores


def _encode_prompt(model, prompt_ids: list[int], reuse: PromptCache | None):
    """The prompt's last logits and its key/values, running only what the cached prefix lacks."""
    import torch

    shared = reuse.shared_length(prompt_ids) if reuse is not None else 0
    with torch.inference_mode():
        if shared:
            cache = copy.deepcopy(reuse.cache)
            cache.crop(-(cache.get_seq_length() - reuse.offset - shared))  # a negative count drops that many
            rest = torch.tensor([prompt_ids[shared:]], device=model.device)
            out = _body(model)(input_ids=rest, cache=cache, use_cache=True, logits_to_keep=1)
        else:
            out = model(input_ids=torch.tensor([prompt_ids], device=model.device), use_cache=True, logits_to_keep=1)
    if reuse is not None:
        reuse.ids, reuse.cache = list(prompt_ids), copy.deepcopy(out.cache)
        reuse.offset = out.cache.get_seq_length() - len(prompt_ids)
    return out.logits[0, -1], out.cache


def _body(model):
    """The model without peft's prompt-learning wrapper (LoRA layers stay in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _score_from_cache(model, cache, first_token, replies: Sequence[list[int]], pad_id: int) -> list[Score]:
    """Each reply's first token is scored from the prompt's last logits; the rest from one batched pass
    of every reply but its last token (whose logits nothing reads) over the repeated prompt cache."""
    import torch

    totals = [float(first_token[reply[0]]) if reply else 0.0 for reply in replies]
    width = max(len(r) for r in replies) - 1
    if width > 0:
        ids, fed = _fed_replies(replies, width, pad_id, model.device)
        past = cache.get_seq_length()  # the prompt, plus any virtual tokens peft prepended
        mask = torch.cat([torch.ones((len(replies), past), dtype=torch.long, device=model.device), fed], dim=1)
        if len(replies) > 1:
            cache.batch_repeat_interleave(len(replies))
        with torch.inference_mode():
            logits = _body(model)(input_ids=ids, attention_mask=mask, cache=cache, use_cache=True).logits
        _add_continuations(totals, torch.log_softmax(logits.float(), dim=-1), replies)
    return [(total, len(reply)) for total, reply in zip(totals, replies)]


def _fed_replies(replies: Sequence[list[int]], width: int, pad_id: int, device):
    """Every reply but its last token (whose logits nothing reads), right-padded to `width`, and its mask."""
    import torch

    ids = torch.full((len(replies), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(replies), width), dtype=torch.long, device=device)
    for i, reply in enumerate(replies):
        fed = reply[:-1]
        ids[i, :len(fed)] = torch.tensor(fed, dtype=torch.long)
        mask[i, :len(fed)] = 1
    return ids, mask


def _add_continuations(totals: list[float], logprobs, replies: Sequence[list[int]]) -> None:
    """Add each reply's tokens after the first, read from the logits of the tokens fed before them."""
    import torch

    for i, reply in enumerate(replies):
        if len(reply) > 1:
            totals[i] += float(logprobs[i, torch.arange(len(reply) - 1), torch.tensor(reply[1:])].sum())


def score_by_full_passes(model, prompt_ids: list[int], replies: Sequence[list[int]], pad_id: int,
                         batch_size: int = 8) -> list[Score]:
    """The direct computation: prompt + reply through the model for every reply (right-padded batches)."""
    scores: list[Score] = []
    for start in range(0, len(replies), batch_size):
        scores.extend(_full_pass_batch(model, prompt_ids, replies[start:start + batch_size], pad_id))
    return scores


def _full_pass_batch(model, prompt_ids: list[int], replies: Sequence[list[int]], pad_id: int) -> list[Score]:
    import torch

    width = len(prompt_ids) + max(len(r) for r in replies)
    ids = torch.full((len(replies), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, reply in enumerate(replies):
        row = prompt_ids + reply
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    with torch.inference_mode():
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
    # PEFT prompt tuning prepends rows for its virtual tokens; keep one row per input token.
    logprobs = torch.log_softmax(logits[:, -width:].float(), dim=-1)
    out = []
    for i, reply in enumerate(replies):
        positions = torch.arange(len(prompt_ids) - 1, len(prompt_ids) + len(reply) - 1)
        out.append((float(logprobs[i, positions, torch.tensor(reply)].sum()), len(reply)))
    return out


def prefill(model, input_ids, attention_mask, cache=None):
    """One pass over a left-padded batch of prompts, as generate() makes it (same positions, same last
    logits): the prompts' key/values and the log-probabilities of each prompt's next token. With `cache`
    (key/values of a prefix the rows share), `attention_mask` covers the prefix too and the rows go on
    from it."""
    import torch

    positions = _positions(attention_mask)[:, -input_ids.shape[1]:]
    with torch.inference_mode():
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, cache=cache,
                    use_cache=True, logits_to_keep=1)
    return out.cache, torch.log_softmax(out.logits[:, -1].float(), dim=-1)


def shared_prefix_length(rows: Sequence[list[int]]) -> int:
    """How many leading tokens all rows share, leaving each at least one of its own."""
    limit = min(len(r) for r in rows) - 1
    n = 0
    while n < limit and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


def prefill_after_shared_prefix(model, rows: Sequence[list[int]], pad_id: int):
    """`prefill` of prompts given as token ids, their shared leading tokens encoded once: the prefix in
    one row, its key/values repeated for every prompt, then the rest of each prompt left-padded after it
    (padding between the prefix and a prompt's own tokens is masked, positions run on). Returns the
    key/values, next-token log-probabilities and the attention mask over all of it."""
    import torch

    device = model.device
    n = shared_prefix_length(rows)
    cache = None
    if n:
        with torch.inference_mode():
            cache = model(input_ids=torch.tensor([rows[0][:n]], device=device), use_cache=True,
                          logits_to_keep=1).cache
        cache.batch_repeat_interleave(len(rows))
    width = max(len(r) for r in rows) - n
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), n + width), dtype=torch.long, device=device)
    mask[:, :n] = 1
    for i, r in enumerate(rows):
        rest = r[n:]
        ids[i, width - len(rest):] = torch.tensor(rest, dtype=torch.long)
        mask[i, n + width - len(rest):] = 1
    cache, next_token = prefill(model, ids, mask, cache)
    return cache, next_token, mask


def score_after_prefill(model, cache, next_token, attention_mask, replies: Sequence[list[int]],
                        pad_id: int) -> list[Score]:
    """Each row's reply scored after its prompt from `prefill`'s key/values and next-token log-probabilities
    (the key/values are left as they were found): equal to `score_after_shared_prompt` on each prompt
    alone, up to the padding's rounding. Answering and scoring a reference then share one prompt pass."""
    import torch

    totals = [float(next_token[i, reply[0]]) for i, reply in enumerate(replies)]
    width = max(len(r) for r in replies) - 1                 # every reply token but the last is fed
    if width > 0:
        device = attention_mask.device
        ids, fed = _fed_replies(replies, width, pad_id, device)
        positions = _positions(attention_mask)[:, -1:] + 1 + torch.arange(width, device=device)
        with torch.inference_mode():
            mask = torch.cat([attention_mask, fed.to(attention_mask.dtype)], dim=1)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                           use_cache=True).logits
            cache.crop(-width)                                # drop what this pass added
        _add_continuations(totals, torch.log_softmax(logits.float(), dim=-1), replies)
    return [(total, len(reply)) for total, reply in zip(totals, replies)]


def _positions(attention_mask):
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill_(attention_mask == 0, 1)
