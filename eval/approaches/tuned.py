"""The shared build of the approaches that fine-tune the language model itself and are then prompted."""
from __future__ import annotations


def build_tuned(ws, name: str):
    """Train `name` with the shared system prompt, then prompt the tuned model like zero-shot."""
    run = ws.tune(name)
    generator = ws.tuned_generator(name)
    built = ws.prompted(generator, ws.plain_messages)
    built.tuned_generator = generator
    return built.add_run(run)
