"""RAG: passages retrieved from the corpus index, quoted as data before each question."""
from tunewise.core.registry import ApproachSpec

SPEC = ApproachSpec(
    name="rag", kind="retrieval", needs=frozenset({"corpus"}), prior=1.0, api=True, prompt_extra="passages",
    summary="rag puts passages retrieved from the corpus into every prompt.",
)


def build(ws, model=None):
    generator = ws.generator(model)
    built = ws.prompted(generator, ws.rag_messages(generator, ws.index()))
    built.notes.append("train_seconds is the time to build the index")
    return ws.charge_index(built)
