"""Generation for every approach: a local causal LM (optionally with a PEFT adapter) or an
OpenAI-compatible endpoint, behind one small interface with the same greedy settings for all.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tunewise.core.errors import ModelError
from tunewise.core.models import api_key, check_safetensors, load_causal_lm, resolve_model
from tunewise.core.schema import ApiModel, ModelRef
from tunewise.retrieval.scoring import (
    PromptCache, prefill, prefill_after_shared_prefix, score_after_prefill, score_after_shared_prompt,
    shared_prefix_length,
)

Conversation = list[dict[str, str]]
CHARS_PER_TOKEN = 4          # a rough count for API models, whose tokenizer we do not have
API_CONTEXT_TOKENS = 8192    # assumed context of an API model, for prompt budgets only
SHORT_BATCH = 32             # the most prompts one batch takes when they are short
BATCH_TOKENS = 4096          # ... and the prompt tokens such a batch may hold (8 RAG prompts of ~500)


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    reference: tuple[float, int] | None = None   # log-likelihood of a given reference reply, and its length


class LocalGenerator:
    """Batched greedy generation and log-likelihood scoring with a local model and its chat template."""

    has_loglikelihood = True

    def __init__(self, model, tokenizer, name: str = "local", batch_size: int = 8, kv_cache: str | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.kv_cache = kv_cache  # None: transformers' dynamic cache; "static": preallocated (bench/generation.py)
        self.prompt_cache = PromptCache()  # label scoring reuses the previous prompt's shared prefix
        self.context_length = int(getattr(model.config, "max_position_embeddings", None) or 2048)
        if getattr(tokenizer, "chat_template", None) is None:
            raise ModelError(f"model '{name}' has no chat template; give an instruct/chat model")

    @classmethod
    def load(cls, ref: str, adapter: str | Path | None = None, device=None) -> "LocalGenerator":
        model, tokenizer = load_causal_lm(ref, device=device)
        if adapter is not None:
            model = _with_adapter(model, Path(adapter))
        return cls(model, tokenizer, name=resolve_model(ref).name)

    def render(self, conversation: Conversation) -> str:
        return self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, conversation: Conversation) -> int:
        return len(self._ids(self.render(conversation)))

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int = 64,
                 references: Sequence[str] | None = None) -> list[Generation]:
        """Greedy replies, in input order, generated in batches of similar prompt length (so little
        left padding is computed); a batch's wall time is shared equally among its conversations.
        With `references`, each generation also carries the reference reply's log-likelihood, scored from
        the same prompt pass (the scoring itself is not counted in the latency)."""
        lengths = [self.count_tokens(c) for c in conversations]
        order = sorted(range(len(conversations)), key=lambda i: lengths[i])
        out: list[Generation] = [None] * len(conversations)  # type: ignore[list-item]
        for batch in self._batches(order, lengths):
            refs = [references[i] for i in batch] if references is not None else None
            for i, generation in zip(batch, self._generate_batch([conversations[i] for i in batch], max_new_tokens,
                                                                 refs)):
                out[i] = generation
        return out

    def _batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Consecutive runs of the length-sorted prompts: `batch_size` of them, or more while they are short
        (up to SHORT_BATCH, within BATCH_TOKENS prompt tokens). A decoding step costs about the same for 8
        short prompts as for 32, so short prompts (refusal probes, zero-shot questions) take fewer steps.
        A `batch_size` of 1 stays one prompt at a time."""
        batches: list[list[int]] = []
        grow = SHORT_BATCH if self.batch_size > 1 else 1
        for i in order:
            if batches and (len(batches[-1]) < self.batch_size or (
                    len(batches[-1]) < grow and (len(batches[-1]) + 1) * lengths[i] <= BATCH_TOKENS)):
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    def _generate_batch(self, batch: Sequence[Conversation], max_new_tokens: int,
                        references: Sequence[str] | None = None) -> list[Generation]:
        import torch

        tok = self.tokenizer
        tok.padding_side, tok.truncation_side = "left", "left"
        limit = max(1, self.context_length - max_new_tokens - virtual_tokens(self.model))
        inputs = tok([self.render(c) for c in batch], return_tensors="pt", padding=True, truncation=True,
                     max_length=limit, add_special_tokens=False).to(self.model.device)
        shared = references is not None and self._scores_in_prefill(inputs, limit)
        scores: list = [None] * len(batch)
        kwargs = {} if shared else {"cache_implementation": self.kv_cache}
        started, scoring_s = time.perf_counter(), 0.0
        prompt_length = inputs["input_ids"].shape[1]
        with torch.inference_mode():
            if shared:
                # generate()'s own first pass, made here so the reference is scored from it; generate()
                # then continues from the greedy first token, so the answers are the ones it would give.
                cache, next_token = prefill(self.model, inputs["input_ids"], inputs["attention_mask"])
                scored = time.perf_counter()
                replies = [self._reply_ids(c, self._ids(self.render(c)), r) for c, r in zip(batch, references)]
                scores = score_after_prefill(self.model, cache, next_token, inputs["attention_mask"], replies,
                                             tok.pad_token_id)
                scoring_s = time.perf_counter() - scored
                first = next_token.argmax(dim=-1, keepdim=True)
                inputs = {"input_ids": torch.cat([inputs["input_ids"], first], dim=1),
                          "attention_mask": torch.cat([inputs["attention_mask"], torch.ones_like(first)], dim=1)}
                kwargs, max_new_tokens = {"cache": cache}, max_new_tokens - 1
            output = self._generate_ids(inputs, max_new_tokens, **kwargs) if max_new_tokens > 0 else inputs["input_ids"]
        per_item_ms = (time.perf_counter() - started - scoring_s) * 1000 / len(batch)
        if references is not None and not shared:   # a prompt that had to be cut, or a prompt-tuned model
            scores = [self.loglikelihood(c, [r])[0] for c, r in zip(batch, references)]
        new = output[:, prompt_length:]
        results = []
        for row, mask, score in zip(new, inputs["attention_mask"][:, :prompt_length], scores):
            ids = row.tolist()
            if tok.eos_token_id in ids:  # count the end-of-turn token, drop the padding after it
                ids = ids[:ids.index(tok.eos_token_id) + 1]
            text = tok.decode(ids, skip_special_tokens=True).strip()
            results.append(Generation(text, int(mask.sum()), len(ids), round(per_item_ms, 2), score))
        return results

    def _generate_ids(self, inputs, max_new_tokens: int, **kwargs):
        """Greedy generate(): the prompts' ids followed by the new ones.

        A prompt-tuned model generates from its base model with the virtual tokens prepended once, as
        embeddings: they take the first positions and the prompt follows them, its left padding masked, as
        in training. peft's own generate() for prompt tuning feeds them in again at every step under
        transformers 5: a soft prompt on the bundled model answered "The answer the capitalThe
        answerAnswer the..." where this path answers "The capital of France is Paris.", and a trained one
        took 9x as long an answer (bench/RESULTS.md)."""
        import torch

        settings = dict(max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
                        pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        if not is_prompt_tuned(self.model):
            return self.model.generate(**inputs, **settings)
        base, ids = self.model.get_base_model(), inputs["input_ids"]
        embeds = base.get_input_embeddings()(ids)
        virtual = self.model.get_prompt(batch_size=ids.shape[0]).to(embeds.dtype)
        mask = torch.cat([inputs["attention_mask"].new_ones(ids.shape[0], virtual.shape[1]), inputs["attention_mask"]],
                         dim=1)
        new = base.generate(inputs_embeds=torch.cat([virtual, embeds], dim=1), attention_mask=mask, **settings)
        return torch.cat([ids, new], dim=1)

    def _scores_in_prefill(self, inputs, limit: int) -> bool:
        """One prompt pass can serve answering and scoring: a plain (or merged) model with a dynamic cache,
        and prompts none of which was cut to fit (the reference is scored after the whole prompt)."""
        length = inputs["input_ids"].shape[1]
        return self.kv_cache is None and not hasattr(self.model, "peft_config") and length < limit

    def loglikelihood(self, conversation: Conversation, continuations: Sequence[str]) -> list[tuple[float, int]]:
        """Sum of log-probabilities of each continuation as the assistant's reply, and its token count.

        The scored tokens are everything the chat template adds after the generation prompt, so the
        end-of-turn token counts too: "pos" and "positive" are then told apart.
        """
        prompt_ids = self._ids(self.render(conversation))
        rows = [self._reply_ids(conversation, prompt_ids, text) for text in continuations]
        return score_after_shared_prompt(self.model, prompt_ids, rows, self.tokenizer.pad_token_id, self.batch_size,
                                         self.prompt_cache)

    def loglikelihoods(self, items: Sequence[tuple[Conversation, Sequence[str]]]) -> list[list[tuple[float, int]]]:
        """`loglikelihood` of many prompts at once: in batches of similar length, the tokens the batch's
        prompts share (a system prompt, fixed demonstrations) are encoded once, the rest of each prompt in
        one left-padded pass after them, and every continuation from the prompt's repeated key/values in
        one more (the 24 bundled probes went from 48 passes, two a probe, to 3). Equal to
        `loglikelihood` prompt by prompt up to the padding's rounding (tested to 1e-4 in fp32)."""
        import torch

        if hasattr(self.model, "peft_config"):        # virtual tokens shift the positions: one at a time
            return [self.loglikelihood(c, continuations) for c, continuations in items]
        prompts = [self._ids(self.render(c)) for c, _ in items]
        shared = shared_prefix_length(prompts) if prompts else 0
        lengths = [len(p) - shared for p in prompts]      # what each adds to a batch beyond the shared start
        out: list[list[tuple[float, int]]] = [[] for _ in items]
        for batch in self._batches(sorted(range(len(items)), key=lambda i: lengths[i]), lengths):
            cache, next_token, mask = prefill_after_shared_prefix(self.model, [prompts[i] for i in batch],
                                                                  self.tokenizer.pad_token_id)
            counts = torch.tensor([len(items[i][1]) for i in batch], device=self.model.device)
            rows = torch.repeat_interleave(torch.arange(len(batch), device=self.model.device), counts)
            cache.batch_select_indices(rows)
            replies = [self._reply_ids(items[i][0], prompts[i], text) for i in batch for text in items[i][1]]
            scores = iter(score_after_prefill(self.model, cache, next_token[rows], mask[rows], replies,
                                              self.tokenizer.pad_token_id))
            for i in batch:
                out[i] = [next(scores) for _ in items[i][1]]
        return out

    def _reply_ids(self, conversation: Conversation, prompt_ids: list[int], text: str) -> list[int]:
        full = self.tokenizer.apply_chat_template(conversation + [{"role": "assistant", "content": text}],
                                                  tokenize=False)
        ids = self._ids(full)
        # Tokenised together the reply may merge with the prompt's last token; then score it on its own.
        if ids[:len(prompt_ids)] == prompt_ids:
            return ids[len(prompt_ids):]
        return self._ids(full[len(self.render(conversation)):])

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


def is_prompt_tuned(model) -> bool:
    """A peft model whose adapter is a soft prompt (prompt tuning, p-tuning), not weights."""
    config = getattr(model, "active_peft_config", None)
    return bool(config is not None and config.is_prompt_learning)


def virtual_tokens(model) -> int:
    """The positions a prompt-tuned model's soft prompt takes in front of every input (0 for others)."""
    return model.active_peft_config.num_virtual_tokens if is_prompt_tuned(model) else 0


def _with_adapter(model, adapter: Path):
    from tunewise.core.artefacts import check_adapter_folder

    check_adapter_folder(adapter)
    check_safetensors(adapter)
    from peft import PeftModel, PeftType

    model = PeftModel.from_pretrained(model, str(adapter))
    if model.active_peft_config.peft_type == PeftType.LORA:
        # Answering only: fold the low-rank update into the base weights, so an answer costs what the
        # base model's does (unmerged, RAG + LoRA answered ~40% slower than RAG in `make demo`).
        model = model.merge_and_unload()
    return model


class ApiGenerator:
    """An OpenAI-compatible chat endpoint: the official client's timeout and retries with backoff."""

    has_loglikelihood = False

    def __init__(self, api: ApiModel):
        from openai import OpenAI

        self.api = api
        self.name = api.model
        self.context_length = API_CONTEXT_TOKENS
        self.client = OpenAI(base_url=api.base_url, api_key=api_key(api), timeout=api.timeout_s,
                             max_retries=api.max_retries)

    def count_tokens(self, conversation: Conversation) -> int:
        return sum(len(m["content"]) for m in conversation) // CHARS_PER_TOKEN + 4 * len(conversation)

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int = 64) -> list[Generation]:
        return [self._one(c, max_new_tokens) for c in conversations]

    def _one(self, conversation: Conversation, max_new_tokens: int) -> Generation:
        import openai

        started = time.perf_counter()
        try:
            reply = self.client.chat.completions.create(model=self.api.model, messages=conversation,
                                                        max_tokens=max_new_tokens, temperature=0)
        except openai.AuthenticationError:
            raise ModelError(f"{self.api.base_url} refused the key in {self.api.api_key_env} "
                             "(authentication failed)") from None
        except (openai.APIConnectionError, openai.APITimeoutError):
            raise ModelError(f"cannot reach the API endpoint {self.api.base_url} (down, or no answer within "
                             f"{self.api.timeout_s:g} s after {self.api.max_retries} retries)") from None
        except openai.APIStatusError as exc:
            raise ModelError(f"{self.api.base_url} answered HTTP {exc.status_code} for model "
                             f"'{self.api.model}'") from None
        except (openai.APIError, ValueError) as exc:  # a body that is not a chat completion at all
            raise self._malformed(f"unreadable reply: {type(exc).__name__}") from None
        latency = (time.perf_counter() - started) * 1000
        text = self._reply_text(reply)
        usage = getattr(reply, "usage", None)
        prompt_tokens, completion_tokens = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
        if not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
            prompt_tokens, completion_tokens = self.count_tokens(conversation), 0
        return Generation(text.strip(), prompt_tokens, completion_tokens, round(latency, 2))

    def _reply_text(self, reply) -> str:
        """The first choice's text, checked field by field: servers send null messages, no choices, HTML."""
        if isinstance(reply, (str, bytes)):
            raise self._malformed("the body is not JSON (an HTML error page?)")
        choices = getattr(reply, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise self._malformed("no 'choices'")
        message = getattr(choices[0], "message", None)
        if message is None:
            raise self._malformed("'choices[0].message' is null")
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise self._malformed("'message.content' is not text")
        return content or ""

    def _malformed(self, what: str) -> ModelError:
        return ModelError(f"{self.api.base_url}/chat/completions sent a malformed reply ({what}); "
                          "check that --api-base points at an OpenAI-compatible endpoint")

    def loglikelihood(self, conversation: Conversation, continuations: Sequence[str]) -> list[tuple[float, int]]:
        raise ModelError(f"API model '{self.name}' gives no log-likelihoods over chosen replies; "
                         "use a local model for label scoring and perplexity")


def make_generator(ref: ModelRef, adapter: str | Path | None = None, device=None):
    """The generator for a model reference: `ApiGenerator` for an API model, else `LocalGenerator` on
    `device` (default: the one device choice, so `ask` and `serve` run as `compare` measured)."""
    if isinstance(ref, ApiModel) or resolve_model(ref).is_api:
        if adapter is not None:
            raise ModelError("an adapter needs a local base model, not an API model")
        return ApiGenerator(ref)
    if device is None:
        from tunewise.core.device import choose_device

        device = choose_device()
    return LocalGenerator.load(ref, adapter=adapter, device=device)
