"""Full fine-tuning: every weight of the model is updated."""
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import TrainingKnobs
from tunewise.eval.approaches.tuned import build_tuned

SPEC = ApproachSpec(
    name="full", kind="tuned", needs=frozenset({"labels", "weights"}), prior=0.0, trainer="full",
    traits=frozenset({"all-weights"}), config=TrainingKnobs,
)


def build(ws):
    return build_tuned(ws, SPEC.name)
