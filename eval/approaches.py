"""The one interface the runner sees: a registry of approach names -> builders, each returning a `Built`
whose `system.predict(examples)` answers every eval example the same way for every approach.

Every LLM approach shares one system prompt per task and greedy decoding; fine-tuning is trained with
that same system prompt, so zero-shot, few-shot, LoRA, full and prompt tuning see identical prompts.
Classification with an LLM picks the label whose tokens are most likely, never by parsing free text.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from tunewise.core.data import Dataset, Document, Example
from tunewise.core.errors import ConfigError
from tunewise.core.files import folder_mb
from tunewise.core.schema import Plan, TrainingRun

SYSTEM_PROMPTS = {
    "qa": "Answer the question in a few words.",
    "generation": "Write the response the user asks for.",
}
FEW_SHOTS = 4
RAG_K = 4
Progress = Callable[[str, int, int], None]   # (stage, done, total)


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


class LLMSystem:
    """A generator and a way to turn an example into a conversation: prompting, RAG or a tuned model."""

    def __init__(self, generator, task: str, labels: Sequence[str], max_new_tokens: int,
                 messages: Callable[[Example], tuple[list[dict], list[str] | None]]):
        self.generator = generator
        self.task = task
        self.labels = list(labels)
        self.max_new_tokens = max_new_tokens
        self.messages = messages
        self._label_scores: dict[str, list[tuple[float, int]]] = {}

    def predict(self, examples: Sequence[Example]) -> list[Prediction]:
        prompts = [self.messages(e) for e in examples]
        if self.task == "classification" and self._local:
            return [self._pick_label(e, conv, retrieved) for e, (conv, retrieved) in zip(examples, prompts)]
        generations = self.generator.generate([conv for conv, _ in prompts], max_new_tokens=self.max_new_tokens)
        out = []
        for (conv, retrieved), gen in zip(prompts, generations):
            text = match_label(gen.text, self.labels) if self.task == "classification" else gen.text
            out.append(Prediction(text, gen.latency_ms, gen.prompt_tokens, retrieved))
        return out

    @property
    def _local(self) -> bool:
        return type(self.generator).__name__ != "ApiGenerator"

    def _pick_label(self, example: Example, conversation: list[dict], retrieved: list[str] | None) -> Prediction:
        started = time.perf_counter()
        scores = self.generator.loglikelihood(conversation, self.labels)
        self._label_scores[example.id] = scores
        best = max(range(len(self.labels)), key=lambda i: scores[i][0])
        latency = (time.perf_counter() - started) * 1000
        return Prediction(self.labels[best], round(latency, 2), self.generator.count_tokens(conversation), retrieved)

    def reference_logprobs(self, examples: Sequence[Example]) -> list[tuple[float, int]] | None:
        """Log-likelihood of each reference answer under this model, for perplexity (local models only)."""
        if not self._local:
            return None
        # A classification reference is one of the labels just scored: reuse that score, no second pass.
        return [self._label_scores[e.id][self.labels.index(e.response)] if e.id in self._label_scores
                else self.generator.loglikelihood(self.messages(e)[0], [e.response])[0] for e in examples]


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
        out = []
        for example in examples:
            started = time.perf_counter()
            label = self.classifier.predict([example.prompt])[0]
            latency = (time.perf_counter() - started) * 1000
            tokens = len(self.classifier.tokenizer(example.prompt, add_special_tokens=False)["input_ids"])
            out.append(Prediction(label, round(latency, 2), tokens))
        return out

    def reference_logprobs(self, examples: Sequence[Example]) -> None:
        return None


@dataclass
class Built:
    """An approach ready to answer, with what building it cost."""

    system: Any
    train_seconds: float = 0.0
    storage_mb: float = 0.0
    peak_memory_mb: float | None = None
    losses: list[list[float]] = field(default_factory=list)
    tuned_generator: Any = None         # a fine-tuned LM, scored on the forgetting probes
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)   # more keys for approaches/NAME.json (dpo, few-shot-opt)


class Workspace:
    """What every builder shares, loaded once: the plan, data, base generator, embedder and indexes."""

    def __init__(self, plan: Plan, train: Dataset, corpus: list[Document] | None, out: Path,
                 max_new_tokens: int = 32, progress: Progress | None = None, device=None):
        self.plan = plan
        self.task = plan.task
        self.train = train
        self.corpus = corpus
        self.out = Path(out)
        self.labels = train.labels if plan.task == "classification" else []
        self.system = system_prompt(plan.task, self.labels)
        self.max_new_tokens = max_new_tokens
        self.progress = progress or (lambda stage, done, total: None)
        self.device = device
        self._cache: dict[str, Any] = {}

    def generator(self, ref=None):
        """The base model's generator (or the API model's), loaded once."""
        from tunewise.retrieval.generate import make_generator

        ref = ref if ref is not None else self.plan.model
        key = f"generator:{ref!r}"
        if key not in self._cache:
            self._cache[key] = make_generator(ref, device=self.device)
        return self._cache[key]

    def embedder(self):
        from tunewise.retrieval.embeddings import Embedder

        if "embedder" not in self._cache:
            self._cache["embedder"] = Embedder(self.plan.embedder)
        return self._cache["embedder"]

    def index(self):
        """A Chroma index of the corpus under OUT/index; an interrupted build is finished, not redone."""
        if "index" not in self._cache:
            index = self._open_index("index")
            started = time.perf_counter()
            if not _index_complete(index):
                index.build(self.corpus)
            self._cache["index_seconds"] = time.perf_counter() - started
            self._cache["index"] = index
        return self._cache["index"]

    def index_seconds(self) -> float:
        return self._cache.get("index_seconds", 0.0)

    def drift_index(self, documents: list[Document]):
        """A copy of the index brought up to date with the changed corpus: (index, seconds, counts).

        The copy leaves the evaluated index as it was; only the update itself is timed, because that is
        what keeping RAG current costs.
        """
        if "drift_index" not in self._cache:
            self.index()
            if not (self.out / "index-next").exists():
                shutil.copytree(self.out / "index", self.out / "index-next")
            index = self._open_index("index-next")
            started = time.perf_counter()
            counts = index.update(documents)
            self._cache["drift_index"] = (index, time.perf_counter() - started, counts)
        return self._cache["drift_index"]

    def _open_index(self, name: str):
        from tunewise.retrieval.index import ChromaIndex, open_client

        on_progress = lambda done, total: self.progress(f"{name}: embed", done, total)  # noqa: E731
        return ChromaIndex(self.embedder(), open_client(self.out / name, create=True), on_progress=on_progress)

    def tune(self, method: str, task: str) -> TrainingRun:
        """Train once into OUT/models/METHOD; a completed run there is reused, a broken one restarted."""
        from tunewise.tuning import run_tuning

        out = self.out / "models" / method
        if (out / "run.json").is_file():
            return TrainingRun.load(out / "run.json")
        config = tune_config(self.plan, method, task, out, self.system)
        report = lambda p: self.progress(f"{method} train", p.step, p.total)  # noqa: E731
        return run_tuning(config, report)


def _index_complete(index) -> bool:
    collection = index._find()
    return collection is not None and bool(collection.metadata.get("complete"))


def tune_config(plan: Plan, method: str, task: str, out: Path, system: str):
    """The plan's shared `tuning:` keys, then its per-approach block, over what this comparison fixes."""
    from tunewise.tuning.config import TuneConfig

    shared = {k: v for k, v in plan.tuning.items() if k not in APPROACHES}
    own = plan.tuning.get(method) or {}
    data = {**shared, **own, "method": method, "model": plan.model, "train": plan.train, "out": out,
            "task": task, "system_prompt": system if task == "sft" else None, "seed": plan.seed, "force": True}
    try:
        return TuneConfig.model_validate(data)
    except ValueError as exc:
        from tunewise.core.schema import describe_validation_error

        raise ConfigError(f"plan 'tuning' for {method}: {describe_validation_error(exc)}") from None


# -- builders --------------------------------------------------------------------------------------

def _prompted(ws: Workspace, generator, messages) -> Built:
    return Built(LLMSystem(generator, ws.task, ws.labels, ws.max_new_tokens, messages))


def build_zero_shot(ws: Workspace, model=None) -> Built:
    return _prompted(ws, ws.generator(model), lambda e: (e.prompt_messages(system=ws.system), None))


def build_few_shot(ws: Workspace, model=None) -> Built:
    from tunewise.retrieval.fewshot import ExampleSelector, fewshot_messages

    generator = ws.generator(model)
    selector = ExampleSelector(ws.train.examples, embedder=ws.embedder(), seed=ws.plan.seed)
    budget = generator.context_length - ws.max_new_tokens

    def messages(example: Example):
        shots = selector.select(example, FEW_SHOTS)
        return fewshot_messages(example, shots, ws.system, generator.count_tokens, budget), None

    return _prompted(ws, generator, messages)


def rag_messages_for(ws: Workspace, generator, index):
    from tunewise.retrieval.rag import RAG_SYSTEM, rag_messages, sources_of

    system = f"{RAG_SYSTEM}\n\n{ws.system}"     # the task's own instruction, as every approach gets it
    budget = generator.context_length - ws.max_new_tokens

    def messages(example: Example):
        hits = index.query(example.prompt, RAG_K)
        return rag_messages(example, hits, system, generator.count_tokens, budget), sources_of(hits)

    return messages


def build_rag(ws: Workspace, model=None) -> Built:
    index = ws.index()
    generator = ws.generator(model)
    built = _prompted(ws, generator, rag_messages_for(ws, generator, index))
    built.train_seconds = ws.index_seconds()
    built.storage_mb = folder_mb(ws.out / "index")
    built.notes.append("train_seconds is the time to build the index")
    return built


def _tuned_generator(ws: Workspace, method: str, run: TrainingRun):
    from tunewise.retrieval.generate import make_generator

    folder = ws.out / "models" / method
    if method == "full":
        return make_generator(str(folder), device=ws.device)
    return make_generator(ws.plan.model, adapter=folder, device=ws.device)


def _costs_of(run: TrainingRun, built: Built) -> Built:
    built.train_seconds = run.train_seconds
    built.storage_mb = run.storage_mb or 0.0
    built.peak_memory_mb = run.peak_memory_mb
    built.losses = [[p.step, p.loss] for p in run.losses]
    return built


def build_tuned(method: str):
    """LoRA, full and prompt tuning: trained to answer with the shared system prompt, then prompted."""

    def build(ws: Workspace) -> Built:
        run = ws.tune(method, "sft")
        generator = _tuned_generator(ws, method, run)
        built = _prompted(ws, generator, lambda e: (e.prompt_messages(system=ws.system), None))
        built.tuned_generator = generator
        return _costs_of(run, built)

    return build


def build_head(ws: Workspace) -> Built:
    from tunewise.tuning.head import load_classifier

    run = ws.tune("head", "classification")
    built = Built(ClassifierSystem(load_classifier(ws.out / "models" / "head")))
    built.notes.append("the base model is frozen, so general knowledge cannot be forgotten")
    return _costs_of(run, built)


def build_rag_lora(ws: Workspace) -> Built:
    """The LoRA adapter (trained once, shared with `lora`) answering over retrieved passages."""
    run = ws.tune("lora", "sft")
    index = ws.index()
    generator = _tuned_generator(ws, "lora", run)
    built = _costs_of(run, _prompted(ws, generator, rag_messages_for(ws, generator, index)))
    built.train_seconds += ws.index_seconds()
    built.storage_mb += folder_mb(ws.out / "index")
    built.tuned_generator = generator
    built.notes.append("shares the LoRA adapter of `lora`; train_seconds adds the index build")
    return built


@dataclass(frozen=True)
class ApproachSpec:
    name: str
    build: Callable[..., Built]
    needs_corpus: bool = False
    gpu_only: bool = False
    tasks: tuple[str, ...] = ("classification", "generation", "qa")
    prompt_only: bool = False           # runs on an API model too
    check: Callable[[Plan], None] | None = None   # validates the plan for this approach before anything runs


APPROACHES: dict[str, ApproachSpec] = {}


def register_approach(spec: ApproachSpec) -> ApproachSpec:
    if spec.name in APPROACHES:
        raise ValueError(f"approach '{spec.name}' is already registered")
    APPROACHES[spec.name] = spec
    return spec


register_approach(ApproachSpec("zero-shot", build_zero_shot, prompt_only=True))
register_approach(ApproachSpec("few-shot", build_few_shot, prompt_only=True))
register_approach(ApproachSpec("rag", build_rag, needs_corpus=True, prompt_only=True))
register_approach(ApproachSpec("lora", build_tuned("lora")))
register_approach(ApproachSpec("qlora", build_tuned("qlora"), gpu_only=True))
register_approach(ApproachSpec("full", build_tuned("full")))
register_approach(ApproachSpec("prompt-tuning", build_tuned("prompt-tuning")))
register_approach(ApproachSpec("head", build_head, tasks=("classification",)))
register_approach(ApproachSpec("rag+lora", build_rag_lora, needs_corpus=True))
from tunewise.eval import approach_dpo, approach_fewshot_opt  # noqa: E402,F401  (each registers itself)

API_PREFIX = "api-"


def spec_for(name: str) -> ApproachSpec:
    """The spec of an approach name, including `api-NAME` for prompt-only approaches on the API model."""
    base = name[len(API_PREFIX):] if name.startswith(API_PREFIX) else name
    if base not in APPROACHES:
        raise ConfigError(f"unknown approach '{name}'; choose from {', '.join(APPROACHES)}")
    return APPROACHES[base]
