"""What every approach's `build` shares, loaded once per comparison: the plan, data, base generator,
embedder, indexes and fine-tuning runs; and `Built`, what a build returns."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tunewise.core import registry
from tunewise.core.data import Dataset, Document, Example
from tunewise.core.defaults import RAG_K
from tunewise.core.errors import ConfigError
from tunewise.core.files import folder_mb
from tunewise.core.schema import Plan, TrainingRun, describe_validation_error
from tunewise.eval.systems import LLMSystem, system_prompt

Progress = Callable[[str, int, int], None]   # (stage, done, total)


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
    extra: dict[str, Any] = field(default_factory=dict)   # approach-specific fields of its ApproachResult

    def add_run(self, run: TrainingRun) -> "Built":
        """Charge a fine-tuning run's costs to this approach."""
        self.train_seconds += run.train_seconds
        self.storage_mb += run.storage_mb or 0.0
        self.peak_memory_mb = max(self.peak_memory_mb or 0.0, run.peak_memory_mb or 0.0) or None
        self.losses = [[p.step, p.loss] for p in run.losses]
        return self


class Workspace:
    """The plan, data and shared components of one comparison folder."""

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

    # -- models ----------------------------------------------------------------------------------------

    def generator(self, ref=None):
        """The base model's generator (or the API model's), loaded once."""
        from tunewise.retrieval.generate import make_generator

        ref = ref if ref is not None else self.plan.model
        key = f"generator:{ref!r}"
        if key not in self._cache:
            self._cache[key] = make_generator(ref, device=self.device)
        return self._cache[key]

    def tuned_generator(self, name: str):
        """The generator of a fine-tuned approach's output: a full model, or the base plus an adapter."""
        from tunewise.retrieval.generate import make_generator

        folder = self.out / "models" / name
        if registry.spec(name).has("all-weights"):
            return make_generator(str(folder), device=self.device)
        return make_generator(self.plan.model, adapter=folder, device=self.device)

    def prompted(self, generator, messages) -> Built:
        return Built(LLMSystem(generator, self.task, self.labels, self.max_new_tokens, messages))

    def plain_messages(self, example: Example):
        return example.prompt_messages(system=self.system), None

    # -- retrieval -------------------------------------------------------------------------------------

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
            if not index.is_complete():
                index.build(self.corpus)
            self._cache["index_seconds"] = time.perf_counter() - started
            self._cache["index"] = index
        return self._cache["index"]

    @property
    def index_seconds(self) -> float:
        """What building (or finishing) the index took here; 0 until it is opened."""
        return self._cache.get("index_seconds", 0.0)

    def charge_index(self, built: Built) -> Built:
        """Add the index build to an approach's costs (the index is built once, shared)."""
        self.index()
        built.train_seconds += self.index_seconds
        built.storage_mb += folder_mb(self.out / "index")
        return built

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

    def rag_messages(self, generator, index):
        """Conversations that quote the top passages for each question, and the documents retrieved."""
        from tunewise.retrieval.rag import RAG_SYSTEM, rag_messages, sources_of

        system = f"{RAG_SYSTEM}\n\n{self.system}"     # the task's own instruction, as every approach gets it
        budget = generator.context_length - self.max_new_tokens

        def messages(example: Example):
            hits = index.query(example.prompt, RAG_K)
            return rag_messages(example, hits, system, generator.count_tokens, budget), sources_of(hits)

        return messages

    def _open_index(self, name: str):
        from tunewise.retrieval.index import ChromaIndex, open_client

        on_progress = lambda done, total: self.progress(f"{name}: embed", done, total)  # noqa: E731
        return ChromaIndex(self.embedder(), open_client(self.out / name, create=True), on_progress=on_progress)

    # -- fine-tuning -----------------------------------------------------------------------------------

    def tune(self, name: str) -> TrainingRun:
        """Train approach `name` once into OUT/models/NAME; a completed run there is reused."""
        from tunewise.tuning import run_tuning

        name = registry.spec(name).run_name
        out = self.out / "models" / name
        if (out / "run.json").is_file():
            return TrainingRun.load(out / "run.json")
        config = tune_config(self.plan, name, out, self.system)
        report = lambda p: self.progress(f"{name}: train", p.step, p.total)  # noqa: E731
        return run_tuning(config, report)


def build_approach(ws: Workspace, name: str) -> Built:
    """Build a registered approach; `api-NAME` builds NAME on the plan's API model."""
    build = registry.builder(name)
    return build(ws, model=ws.plan.api_model) if registry.split_api(name)[1] else build(ws)


def tune_config(plan: Plan, name: str, out: Path, system: str):
    """The plan's shared `tuning:` keys, then the approach's own block, over what this comparison fixes."""
    from tunewise.tuning.config import TuneConfig

    spec = registry.spec(name)
    data = {**plan.tuning.for_approach(name), "method": spec.trainer, "model": plan.model, "train": plan.train,
            "out": out, "task": spec.train_task, "seed": plan.seed, "force": True,
            "system_prompt": system if spec.train_task == "sft" else None}
    try:
        return TuneConfig.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"plan 'tuning' for {name}: {describe_validation_error(exc)}") from None
