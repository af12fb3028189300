"""What each writing command reads, so its output can be kept apart from every input (see `files.check_apart`)."""
from __future__ import annotations

from pathlib import Path

from tunewise.core.schema import Plan


def plan_inputs(plan: Plan) -> list[Path | str | None]:
    """A plan's data, corpora and (when it is a local folder) its model."""
    model = plan.model if isinstance(plan.model, (str, Path)) else None
    return [plan.train, plan.eval, plan.corpus, plan.corpus_next, plan.eval_next, model]
