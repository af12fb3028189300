"""The approaches Tunewise knows, each declared once: name, kind, needs, traits, training and prompt shape.

An approach is one module under `eval/approaches/` holding a `SPEC` (an `ApproachSpec`) and a `build`
function, plus one `register(SPEC, build)` line in `eval/approaches/__init__.py`. Everything else (the
advisor's rules and estimates, `compare`, the report, the CLI) reads names, requirements and defaults
from here and never spells an approach's name. Importing the built-in approaches is deferred to the first
lookup (by module path, as a plugin hook would), so `core` stays free of heavy imports.

An approach in the plan can also run on the plan's API model as `api-NAME` when its spec says `api=True`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from tunewise.core.errors import ConfigError

Kind = Literal["in-context", "retrieval", "tuned"]
NEEDS = frozenset({"labels", "corpus", "weights", "gpu"})
# What the advisor's rules key on (advisor/rules.py). An approach may carry any of them:
TRAITS = frozenset({
    "baseline",        # the reference every other approach must beat; always compared first
    "adapter",         # trains a small set of added weights on top of a frozen base
    "learns-format",   # a general learner of output format and behaviour (LoRA-class)
    "all-weights",     # updates every weight of the model
    "quantized",       # trains over 4-bit base weights
    "classifier",      # predicts a label in one forward pass; cannot write text
    "provider-tunable",  # what a provider's fine-tuning API offers for an API model
})
PromptExtra = Literal["none", "shots", "passages", "virtual-tokens"]
TASKS = ("classification", "generation", "qa")
API_PREFIX = "api-"
BUILTIN_MODULES = ("tunewise.eval.approaches",)


@dataclass(frozen=True)
class ApproachSpec:
    """What an approach is and needs; `build` (in the approach's module) makes it answer."""

    name: str
    kind: Kind
    summary: str = ""                       # one sentence the advisor shows for it
    needs: frozenset[str] = frozenset()
    traits: frozenset[str] = frozenset()
    tasks: tuple[str, ...] = TASKS          # compare's tasks it applies to
    tasks_note: str = ""                    # why it applies only to those, when it does not apply to all
    prior: float = 0.0                      # the advisor's score before any rule (a hand-set prior)
    api: bool = False                       # also runs on an API model, as api-NAME
    trainer: str | None = None              # the `tune` method that trains it (None: nothing trains)
    train_task: Literal["sft", "classification"] = "sft"
    prompt_extra: PromptExtra = "none"      # what it adds to every prompt (for the estimates)
    config: type | None = None              # the typed settings of its plan `tuning.NAME` block

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip().lower() or self.name.startswith(API_PREFIX):
            raise ValueError(f"approach name '{self.name}' must be lower case and must not start with '{API_PREFIX}'")
        for what, given, allowed in (("needs", self.needs, NEEDS), ("traits", self.traits, TRAITS),
                                     ("tasks", set(self.tasks), set(TASKS))):
            if not set(given) <= allowed:
                raise ValueError(f"approach '{self.name}': unknown {what} {sorted(set(given) - allowed)}")
        if (self.kind == "tuned") != (self.trainer is not None):
            raise ValueError(f"approach '{self.name}': a tuned approach names its trainer, others none")

    @property
    def tuned(self) -> bool:
        return self.kind == "tuned"

    @property
    def retrieves(self) -> bool:
        return "corpus" in self.needs

    def has(self, trait: str) -> bool:
        return trait in self.traits


@dataclass
class Registry:
    specs: dict[str, ApproachSpec] = field(default_factory=dict)
    builders: dict[str, Callable[..., Any]] = field(default_factory=dict)
    loaded: bool = False


_REGISTRY = Registry()


def register(spec: ApproachSpec, build: Callable[..., Any]) -> ApproachSpec:
    """Add an approach; a second one of the same name is refused."""
    if spec.name in _REGISTRY.specs:
        raise ValueError(f"approach '{spec.name}' is already registered")
    _REGISTRY.specs[spec.name] = spec
    _REGISTRY.builders[spec.name] = build
    return spec


def unregister(name: str) -> None:
    """Remove an approach (tests register toy ones)."""
    _REGISTRY.specs.pop(name, None)
    _REGISTRY.builders.pop(name, None)


def _load() -> Registry:
    if not _REGISTRY.loaded:
        _REGISTRY.loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
    return _REGISTRY


def specs() -> list[ApproachSpec]:
    """Every registered approach, in registration order (the advisor's tie-break order)."""
    return list(_load().specs.values())


def names() -> list[str]:
    return [s.name for s in specs()]


def select(predicate: Callable[[ApproachSpec], bool]) -> tuple[str, ...]:
    return tuple(s.name for s in specs() if predicate(s))


def spec(name: str) -> ApproachSpec:
    """The spec of `name`, or of NAME for `api-NAME` when that approach runs on an API model."""
    base, api = split_api(name)
    found = _load().specs.get(base)
    if found is None or (api and not found.api):
        choices = ", ".join(names())
        raise ConfigError(f"unknown approach '{name}'; choose from {choices}"
                          + (f" (or api-NAME for those that prompt an API model)" if api else ""))
    return found


def builder(name: str) -> Callable[..., Any]:
    return _load().builders[spec(name).name]


def split_api(name: str) -> tuple[str, bool]:
    if name.startswith(API_PREFIX):
        return name[len(API_PREFIX):], True
    return name, False


def baseline() -> str:
    return next(s.name for s in specs() if s.has("baseline"))
