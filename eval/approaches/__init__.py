"""The built-in approaches: one module each (a `SPEC` and a `build`), registered here in the advisor's
tie-break order. Adding an approach is one module plus one line below."""
from tunewise.core.registry import register
from tunewise.eval.approaches import (
    few_shot, full, head, lora, prompt_tuning, qlora, rag, rag_lora, zero_shot,
)

register(zero_shot.SPEC, zero_shot.build)
register(few_shot.SPEC, few_shot.build)
register(rag.SPEC, rag.build)
register(lora.SPEC, lora.build)
register(qlora.SPEC, qlora.build)
register(full.SPEC, full.build)
register(prompt_tuning.SPEC, prompt_tuning.build)
register(head.SPEC, head.build)
register(rag_lora.SPEC, rag_lora.build)
