"""QLoRA: LoRA over 4-bit quantised base weights (bitsandbytes kernels: CUDA only)."""
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import TrainingKnobs
from tunewise.eval.approaches.tuned import build_tuned

SPEC = ApproachSpec(
    name="qlora", kind="tuned", needs=frozenset({"labels", "weights", "gpu"}), prior=1.0, trainer="qlora",
    traits=frozenset({"adapter", "learns-format", "quantized"}), config=TrainingKnobs,
)


def build(ws):
    return build_tuned(ws, SPEC.name)
