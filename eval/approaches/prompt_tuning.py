"""Prompt tuning: a few trained virtual tokens in front of every prompt; the model stays frozen."""
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import TrainingKnobs
from tunewise.eval.approaches.tuned import build_tuned

SPEC = ApproachSpec(
    name="prompt-tuning", kind="tuned", needs=frozenset({"labels", "weights"}), prior=0.5,
    trainer="prompt-tuning", traits=frozenset({"adapter"}), prompt_extra="virtual-tokens", config=TrainingKnobs,
    summary="prompt tuning trains only a few virtual tokens: cheap, but usually below LoRA.",
)


def build(ws):
    return build_tuned(ws, SPEC.name)
