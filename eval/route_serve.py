"""`tunewise serve --router ROUTER`: one OpenAI-compatible endpoint that answers each request with the
approach the router picks for it, built from the compare run exactly as compare built it (same prompts,
adapters, index and decoding). The chosen route is in each response (`tunewise.route`) and in the log; a
route that fails (an API endpoint down, a broken index) falls back to the router's most robust route,
and the log says so.

Each request is routed on its last user message, as compare routed its eval questions; earlier turns and
a client's own system prompt are not passed on, because no route was evaluated with them.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tunewise.core.errors import TunewiseError
from tunewise.core.files import read_json
from tunewise.eval.route_features import FeatureExtractor, run_extractor
from tunewise.eval.router import RouterFile, predicted_quality, route_of
from tunewise.retrieval.generate import Generation

SERVED_NAME = "tunewise-router"
Log = Callable[[str], None]


@dataclass(frozen=True)
class RoutedGeneration(Generation):
    metadata: dict = field(default_factory=dict)    # goes into the response as `tunewise`


class RoutedBackend:
    """What the chat server calls `generate` on: features -> route -> that route's system -> answer."""

    name = SERVED_NAME

    def __init__(self, router: RouterFile, systems: dict, extractor: FeatureExtractor | None,
                 max_new_tokens: int, log: Log):
        self.router = router
        self.systems = systems
        self.extractor = extractor
        self.max_new_tokens = max_new_tokens
        self.log = log
        self._lock = threading.Lock()

    def route(self, question: str, max_new_tokens: int = 64):
        """(route, feature ms, the answer of the route asked first for its confidence, or None) for one
        question, at the router's operating point."""
        if self.extractor is None:      # a single-approach operating point needs no features
            return self.router.operating_point.name, 0.0, None
        vector, ms = self.extractor.features(question)
        first = None
        if self.router.confidence_route is not None:
            first = self._predict(self.router.confidence_route, question, max_new_tokens)
            vector = [*vector, first.confidence]
        return route_of(self.router, predicted_quality(self.router.model, [vector]))[0], ms, first

    def generate(self, conversations: Sequence[list[dict]], max_new_tokens: int = 64) -> list[RoutedGeneration]:
        with self._lock:
            return [self._answer(c, min(max_new_tokens, self.max_new_tokens)) for c in conversations]

    def _answer(self, conversation: list[dict], max_new_tokens: int) -> RoutedGeneration:
        question = next((m["content"] for m in reversed(conversation) if m["role"] == "user"), "")
        route, feature_ms, first = self.route(question, max_new_tokens)
        reuse = first is not None and route == self.router.confidence_route
        if first is not None and not reuse:
            feature_ms += first.latency_ms      # asked first, then not used: part of what routing costs
        metadata = {"route": route}
        try:
            prediction = first if reuse else self._predict(route, question, max_new_tokens)
        except Exception as exc:  # any backend failure: the request is still answered, and the log says why
            fallback = self.router.fallback
            if route == fallback:
                raise
            self.log(f"route {route} failed ({type(exc).__name__}: {exc}); falling back to {fallback}")
            prediction = self._predict(fallback, question, max_new_tokens)
            metadata = {"route": fallback, "fallback_from": route}
        self.log(f"route {metadata['route']}: {prediction.latency_ms + feature_ms:.0f} ms "
                 f"(features {feature_ms:.0f} ms)")
        completion = self._completion_tokens(metadata["route"], prediction.text)
        return RoutedGeneration(prediction.text, prediction.prompt_tokens or 0, completion,
                                round(prediction.latency_ms + feature_ms, 2), metadata=metadata)

    def _predict(self, route: str, question: str, max_new_tokens: int):
        from tunewise.core.data import Example

        system = self.systems[route]
        if hasattr(system, "max_new_tokens"):
            system.max_new_tokens = max_new_tokens
        # one fixed id: LLM label scoring caches by id, so requests must not pile up entries
        return system.predict([Example(id="request", line=0, prompt=question, response="")])[0]

    def _completion_tokens(self, route: str, text: str) -> int:
        tokenizer = getattr(getattr(self.systems[route], "generator", None), "tokenizer", None)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) if tokenizer is not None else 0


def load_backend(router_path: str | Path, embedder=None, log: Log | None = None, device=None) -> RoutedBackend:
    """Build every route the router may choose (and its fallback) from its compare run, after checking
    that the features served are the features it was trained on."""
    from tunewise.core.data import load_corpus, load_dataset
    from tunewise.core.schema import Plan
    from tunewise.eval.workspace import Workspace, build_approach

    router_path = Path(router_path)
    router = RouterFile.load(router_path)
    stamp_path = router.run_dir / "compare.json"
    if not stamp_path.is_file():
        raise TunewiseError(f"{router_path}: its compare run {router.run_dir} is gone (no compare.json)")
    stamp = read_json(stamp_path)
    plan = Plan.model_validate(stamp["plan"])
    constant = router.operating_point.tradeoff is None
    ws = Workspace(plan, load_dataset(plan.train), load_corpus(plan.corpus) if plan.corpus else None,
                   router.run_dir, int(stamp.get("max_new_tokens", 32)), device=device or _device())
    # checked even when the operating point is one approach: the file claims these features
    extractor = run_extractor(router.run_dir, plan.embedder, embedder if embedder is not None else ws.embedder())
    extractor.check(router.versions, router_path)
    names = [router.operating_point.name] if constant else list(router.routes)
    names += [router.fallback] if router.fallback not in names else []
    systems = {}
    for name in names:
        systems[name] = build_approach(ws, name).system
    return RoutedBackend(router, systems, None if constant else extractor, ws.max_new_tokens,
                         log or logging.getLogger("tunewise.serve").info)


def _device():
    from tunewise.core.device import choose_device

    return choose_device()


def start_router_server(router_path: str | Path, host: str = "127.0.0.1", port: int = 8000,
                        token: str | None = None, log: Log | None = None, embedder=None, limits=None):
    """The chat server of retrieval/serve.py with the routed backend in place of one model."""
    from tunewise.retrieval.serve import Limits, start_server

    return start_server(SERVED_NAME, host=host, port=port, token=token, limits=limits or Limits(),
                        backend=lambda: load_backend(router_path, embedder=embedder, log=log))
