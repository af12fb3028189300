"""Few-shot prompts: k training examples chosen by embedding similarity (or at random, seeded) and laid
out as earlier chat turns, within a token budget of the model's context.
"""
from __future__ import annotations

import random
from typing import Callable, Sequence

from tunewise.core.data import Example
from tunewise.core.errors import ConfigError

Conversation = list[dict[str, str]]
STRATEGIES = ("similar", "random")


class ExampleSelector:
    """Picks shots from a training pool; the pool is embedded once, on first use of "similar"."""

    def __init__(self, pool: Sequence[Example], embedder=None, strategy: str = "similar", seed: int = 0):
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown few-shot strategy '{strategy}'; choose one of {', '.join(STRATEGIES)}")
        if strategy == "similar" and embedder is None:
            raise ConfigError("similar-example selection needs an embedder")
        self.pool = list(pool)
        self.embedder = embedder
        self.strategy = strategy
        self.seed = seed
        self._vectors = None

    def select(self, example: Example, k: int) -> list[Example]:
        """Up to `k` shots, most useful first; the example itself (same id) is never its own shot."""
        candidates = [e for e in self.pool if e.id != example.id]
        if k <= 0 or not candidates:
            return []
        if self.strategy == "random":
            # Seeded per example so a run is reproducible and examples do not all share one draw.
            return random.Random(f"{self.seed}:{example.id}").sample(candidates, min(k, len(candidates)))
        return self._most_similar(example, k)

    def _most_similar(self, example: Example, k: int) -> list[Example]:
        import numpy as np

        if self._vectors is None:
            self._vectors = np.asarray(self.embedder.embed_documents([e.prompt for e in self.pool]))
        scores = self._vectors @ np.asarray(self.embedder.embed_query(example.prompt))
        order = np.argsort(-scores, kind="stable")
        return [self.pool[i] for i in order if self.pool[i].id != example.id][:k]


def shot_turns(shot: Example) -> Conversation:
    """A shot as a user turn (exactly as training saw it, system turns aside) and the assistant's answer."""
    turns = [m for m in shot.prompt_messages() if m["role"] != "system"]
    return turns + [{"role": "assistant", "content": shot.response}]


def fewshot_messages(example: Example, shots: Sequence[Example], system: str | None = None,
                     count_tokens: Callable[[Conversation], int] | None = None,
                     budget: int | None = None) -> Conversation:
    """System turn, shots as earlier turns, then the example's own prompt.

    Shots come most useful first; the least useful are dropped until the prompt fits `budget` tokens.
    """
    kept = list(shots)
    while True:
        messages = _compose(example, kept, system)
        if budget is None or count_tokens is None or count_tokens(messages) <= budget or not kept:
            return messages
        kept.pop()


def _compose(example: Example, shots: Sequence[Example], system: str | None) -> Conversation:
    head = example.prompt_messages(system=system)
    lead = [head.pop(0)] if head and head[0]["role"] == "system" else []
    # The most similar shot sits nearest the question, where small models attend most.
    body = [turn for shot in reversed(shots) for turn in shot_turns(shot)]
    return lead + body + head
