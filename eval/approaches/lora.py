"""LoRA: low-rank adapters on every linear layer of a frozen base, trained on the labelled examples."""
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import TrainingKnobs
from tunewise.eval.approaches.tuned import build_tuned

SPEC = ApproachSpec(
    name="lora", kind="tuned", needs=frozenset({"labels", "weights"}), prior=1.5, trainer="lora",
    traits=frozenset({"adapter", "learns-format", "provider-tunable"}), config=TrainingKnobs,
)


def build(ws):
    return build_tuned(ws, SPEC.name)
