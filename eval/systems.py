"""How an approach answers: a prompted language model (prompting, RAG or a tuned model) or a classifier.

Every LLM approach shares one system prompt per task and greedy decoding; fine-tuning is trained with
that same system prompt, so zero-shot, few-shot, LoRA, full and prompt tuning see identical prompts.
Classification with a local LLM picks the label whose tokens are most likely, never by parsing free text.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from tunewise.core.data import Example

SYSTEM_PROMPTS = {
    "qa": "Answer the question in a few words.",
    "generation": "Write the response the user asks for.",
}
Messages = Callable[[Example], tuple[list[dict], "list[str] | None"]]
CLASSIFIER_BATCH = 16     # a trained classifier's examples per pass


def system_prompt(task: str, labels: Sequence[str]) -> str:
    if task == "classification":
        return f"Classify the message. Answer with exactly one label from: {', '.join(labels)}."
    return SYSTEM_PROMPTS[task]


@dataclass(frozen=True)
class Prediction:
    text: str
    latency_ms: float
    prompt_tokens: int | None = None
    retrieved: list[str] | None = None    # document ids retrieved, best first (RAG only)
    confidence: float | None = None       # probability of the chosen label over the label set (label scoring)
    completion_tokens: int | None = None  # tokens generated (None for label scoring)


class LLMSystem:
    """A generator and a way to turn an example into a conversation (and the documents it retrieved)."""

    def __init__(self, generator, task: str, labels: Sequence[str], max_new_tokens: int, messages: Messages):
        self.generator = generator
        self.task = task
        self.labels = list(labels)
        self.max_new_tokens = max_new_tokens
        self.messages = messages
        self._label_scores: dict[str, list[tuple[float, int]]] = {}
        self._reference_scores: dict[str, tuple[float, int]] = {}

    def with_messages(self, messages: Messages) -> "LLMSystem":
        """The same model answering from other prompts (e.g. over an updated index)."""
        return LLMSystem(self.generator, self.task, self.labels, self.max_new_tokens, messages)

    def predict(self, examples: Sequence[Example]) -> list[Prediction]:
        prompts = [self.messages(e) for e in examples]
        if self.task == "classification" and self.scores_labels:
            return self._pick_labels(examples, prompts)
        # A local model scores the reference from the same prompt pass that answers (for perplexity).
        references = [e.response for e in examples] if self.scores_labels else None
        generations = self.generator.generate([conv for conv, _ in prompts], max_new_tokens=self.max_new_tokens,
                                              **({"references": references} if references else {}))
        out = []
        for example, (conv, retrieved), gen in zip(examples, prompts, generations):
            if getattr(gen, "reference", None) is not None:
                self._reference_scores[example.id] = gen.reference
            text = match_label(gen.text, self.labels) if self.task == "classification" else gen.text
            out.append(Prediction(text, gen.latency_ms, gen.prompt_tokens, retrieved,
                                  completion_tokens=gen.completion_tokens))
        return out

    @property
    def scores_labels(self) -> bool:
        """Local models give log-likelihoods; an API model only text."""
        return getattr(self.generator, "has_loglikelihood", False)

    def _pick_labels(self, examples: Sequence[Example], prompts) -> list[Prediction]:
        """Each example's most likely label, every label scored for every example in batched passes (the
        prompts' shared start, such as fixed demonstrations, encoded once); the wall time is shared equally."""
        started = time.perf_counter()
        every = self.generator.loglikelihoods([(conv, self.labels) for conv, _ in prompts])
        latency = (time.perf_counter() - started) * 1000 / max(len(examples), 1)
        out = []
        for example, (conv, retrieved), scores in zip(examples, prompts, every):
            self._label_scores[example.id] = scores
            best = max(range(len(self.labels)), key=lambda i: scores[i][0])
            out.append(Prediction(self.labels[best], round(latency, 2), self.generator.count_tokens(conv), retrieved,
                                  label_confidence([total for total, _ in scores], best)))
        return out

    def reference_logprobs(self, examples: Sequence[Example]) -> list[tuple[float, int]] | None:
        """Log-likelihood of each reference answer under this model, for perplexity (local models only)."""
        if not self.scores_labels:
            return None
        # Scored while answering (a label among those scored, or the reference after the answer's prompt
        # pass): reuse that score, no second pass.
        return [self._label_scores[e.id][self.labels.index(e.response)] if e.id in self._label_scores
                else self._reference_scores[e.id] if e.id in self._reference_scores
                else self.generator.loglikelihood(self.messages(e)[0], [e.response])[0] for e in examples]


def label_confidence(logprobs: Sequence[float], chosen: int) -> float:
    """Softmax of the labels' summed log-likelihoods at the chosen one: how sure the model is among these
    labels (1/len(labels) when it cannot tell them apart). Summed, as the choice itself is made."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    return weights[chosen] / sum(weights)


def match_label(text: str, labels: Sequence[str]) -> str:
    """Free text -> a label (API models give no log-likelihoods): the earliest label named, else the text."""
    lowered = text.lower()
    found = [(lowered.find(label.lower()), label) for label in labels if label.lower() in lowered]
    return min(found)[1] if found else text.strip()


class ClassifierSystem:
    """A trained classifier (head, or LoRA/full with a head) from `tuning.head.load_classifier`."""

    def __init__(self, classifier):
        self.classifier = classifier

    def predict(self, examples: Sequence[Example]) -> list[Prediction]:
        """Labels in batches of similar length; a batch's wall time is shared equally among its examples, as
        the LM approaches' label scoring and generation share theirs."""
        texts = [e.prompt for e in examples]
        tokens = [len(ids) for ids in self.classifier.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        order = sorted(range(len(texts)), key=tokens.__getitem__)
        out: list[Prediction] = [None] * len(texts)  # type: ignore[list-item]
        for start in range(0, len(order), CLASSIFIER_BATCH):
            batch = order[start:start + CLASSIFIER_BATCH]
            started = time.perf_counter()
            found = self.classifier.predict_with_confidence([texts[i] for i in batch], batch_size=len(batch))
            latency = (time.perf_counter() - started) * 1000 / len(batch)
            for i, (label, confidence) in zip(batch, found):
                out[i] = Prediction(label, round(latency, 2), tokens[i], confidence=round(confidence, 6))
        return out

    def reference_logprobs(self, examples: Sequence[Example]) -> None:
        return None
