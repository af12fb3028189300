"""Zero-shot: the task's instruction and the question, nothing else. The baseline."""
from tunewise.core.registry import ApproachSpec

SPEC = ApproachSpec(
    name="zero-shot", kind="in-context", traits=frozenset({"baseline"}), prior=1.0, api=True,
    summary="zero-shot is the baseline every other approach must beat.",
)


def build(ws, model=None):
    return ws.prompted(ws.generator(model), ws.plain_messages)
