"""router: for each question, the approach that a router learned from this comparison's own predictions
picks (eval/router.py), every choice made out of fold. Listed last in a plan, it routes among the
approaches before it, and appears in the same table with the same intervals; its latency adds the
features' time."""
from __future__ import annotations

from tunewise.core.errors import ConfigError
from tunewise.core.registry import ApproachSpec

MIN_ROUTES = 2


def check_plan(plan) -> None:
    """It routes among the approaches compare runs before it, so it comes last, after two or more."""
    names = list(plan.approaches)
    if names[-1] != SPEC.name:
        raise ConfigError(f"approach '{SPEC.name}' routes among the approaches compared before it: list it last")
    if len(names) - 1 < MIN_ROUTES:
        raise ConfigError(f"approach '{SPEC.name}' needs at least {MIN_ROUTES} other approaches to route among")
    _check_eval_size(plan)


def _check_eval_size(plan) -> None:
    """Refused before anything trains, not after every other approach has run."""
    from tunewise.core.data import load_dataset
    from tunewise.eval.router import examples_needed

    count = len(load_dataset(plan.eval).examples)
    count = min(count, plan.limit_eval) if plan.limit_eval else count
    if count < examples_needed():
        raise ConfigError(f"approach '{SPEC.name}' is scored out of fold and needs at least {examples_needed()} "
                          f"eval examples; this plan has {count}")


SPEC = ApproachSpec(
    name="router", kind="in-context", needs=frozenset({"predictions"}), prior=-1.0, check=check_plan,
    summary="router sends each question to the approach a router learned to pick from a comparison's own "
            "per-question results; add it last to a plan to score it beside the others.",
)


class RoutedAnswers:
    """The out-of-fold routed rows, answered by id."""

    def __init__(self, rows: list[dict]):
        self.by_id = {r["id"]: r for r in rows}

    def predict(self, examples):
        from tunewise.eval.systems import Prediction

        return [Prediction(self.by_id[e.id]["prediction"], self.by_id[e.id]["latency_ms"],
                           self.by_id[e.id].get("prompt_tokens"), self.by_id[e.id].get("retrieved"))
                for e in examples]

    def reference_logprobs(self, examples):
        return None


def build(ws):
    from tunewise.eval.route_report import keep_in_run
    from tunewise.eval.router import score_router_out_of_fold, train_router
    from tunewise.eval.workspace import Built

    router = train_router(ws.out)
    keep_in_run(router)         # the report shows its frontier
    rows = score_router_out_of_fold(ws.out, router)
    routes = sorted({r["route"] for r in rows})
    return Built(RoutedAnswers(rows), notes=[f"routes out of fold among {', '.join(routes)} (eval/router.py)"])
