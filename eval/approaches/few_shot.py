"""Few-shot: the most similar labelled examples, shown before each question within the context budget."""
from tunewise.core.defaults import FEW_SHOTS
from tunewise.core.registry import ApproachSpec

SPEC = ApproachSpec(
    name="few-shot", kind="in-context", needs=frozenset({"labels"}), prior=2.0, api=True,
    prompt_extra="shots", summary="few-shot shows a few labelled examples in every prompt.",
)


def build(ws, model=None):
    from tunewise.retrieval.fewshot import ExampleSelector, fewshot_messages

    generator = ws.generator(model)
    selector = ExampleSelector(ws.train.examples, embedder=ws.embedder(), seed=ws.plan.seed)
    budget = generator.context_length - ws.max_new_tokens

    def messages(example):
        shots = selector.select(example, FEW_SHOTS)
        return fewshot_messages(example, shots, ws.system, generator.count_tokens, budget), None

    return ws.prompted(generator, messages)
