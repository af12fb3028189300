"""Without a pilot, the ledger before the priors: when this machine has measured a comparison of the same
task and model on a similar amount of data, its best feasible approach becomes the recommendation.

Similar: the same task and model, and a training set within a factor of SIMILAR_SIZE of this one. The
most recent such comparison (one compare folder) counts; the hand-set priors remain the last resort.
"""
from __future__ import annotations

from tunewise.advisor.records import Recommendation
from tunewise.advisor.rules import PLAN_TASK
from tunewise.core.ledger import Ledger, MeasuredRun

SIMILAR_SIZE = 2.0


def similar_comparison(task: str, model: str | None, examples: int, ledger: Ledger | None = None) -> list[MeasuredRun]:
    """The approaches of the most recent similar comparison in the ledger (empty when there is none)."""
    if not examples or model is None:
        return []
    runs = (ledger or Ledger()).runs(kind="compare", task=task, model=model)
    close = [r for r in runs if r.examples and r.metric_value is not None
             and 1 / SIMILAR_SIZE <= r.examples / examples <= SIMILAR_SIZE]
    if not close:
        return []
    newest = close[0].source
    return [r for r in close if r.source == newest]


def lean_on_ledger(rec: Recommendation, model: str | None) -> Recommendation:
    """The recommendation of `rec`, replaced by the best feasible approach of a similar measured comparison."""
    answers = rec.profile.answers
    examples = rec.profile.data.examples if rec.profile.data else answers.labelled_examples
    measured = similar_comparison(PLAN_TASK[answers.task], model, examples)
    feasible = {r.approach for r in rec.ranking if r.feasible}
    scored = {r.approach: r for r in measured if r.approach in feasible}
    if len(scored) < 2:
        return rec
    best = max(scored.values(), key=lambda r: r.metric_value)
    others = ", ".join(f"{r.approach} {r.metric_value:.3f}" for r in scored.values() if r is not best)
    note = (f"measured: a comparison on {best.examples} examples of this task with this model on this machine "
            f"scored {best.approach} {best.metric} {best.metric_value:.3f} (against {others}); it leads over the "
            "rules' priors.")
    profile = rec.profile.model_copy(update={"notes": [*rec.profile.notes, note]})
    return rec.model_copy(update={"recommendation": best.approach, "profile": profile})
