"""RAG over the LoRA adapter: the tuned model (trained once, shared with `lora`) answers over passages."""
from tunewise.core.registry import ApproachSpec
from tunewise.core.schema import TrainingKnobs
from tunewise.eval.approaches import lora

SPEC = ApproachSpec(
    name="rag+lora", kind="tuned", needs=frozenset({"labels", "weights", "corpus"}), prior=0.0, trainer="lora",
    traits=frozenset({"adapter", "provider-tunable"}), prompt_extra="passages", config=TrainingKnobs,
)


def build(ws):
    run = ws.tune(lora.SPEC.name)
    generator = ws.tuned_generator(lora.SPEC.name)
    built = ws.prompted(generator, ws.rag_messages(generator, ws.index())).add_run(run)
    built.tuned_generator = generator
    built.notes.append(f"shares the LoRA adapter of `{lora.SPEC.name}`; train_seconds adds the index build")
    return ws.charge_index(built)
