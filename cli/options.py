"""Options shared by several commands, as decorators, so each is spelled and parsed one way."""
from __future__ import annotations

import click

from tunewise.core.defaults import DEFAULT_GENERATOR
from tunewise.core.reading import ReadPolicy
from tunewise.core.schema import ApiModel, ModelRef

force_option = click.option("--force", is_flag=True, help="Overwrite an existing output.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")


def reading_policy(func):
    """Give the command the `ReadPolicy` the global flags chose (`tunewise --follow-links`) as `reading`,
    to pass explicitly to whatever reads a corpus; the safe default when the command runs on its own."""
    import functools

    @functools.wraps(func)
    def with_policy(*args, **kwargs):
        policy = click.get_current_context().find_object(ReadPolicy)
        return func(*args, reading=policy if policy is not None else ReadPolicy(), **kwargs)

    return with_policy


def writing(out, command: str):
    """Hold the one-writer lock on `out` (see core.lock) for the block; nothing to lock without an output."""
    from contextlib import nullcontext

    from tunewise.core.lock import output_lock

    return output_lock(out, command) if out is not None else nullcontext()


def model_options(default: str | None = DEFAULT_GENERATOR):
    """`--model` plus `--api-base`/`--api-key-env`: with `--api-base`, the model is an API model."""

    def decorate(func):
        func = click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                            help="Environment variable holding the API key (with --api-base).")(func)
        func = click.option("--api-base", default=None,
                            help="OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1); "
                                 "makes --model an API model name.")(func)
        return click.option("--model", default=default, show_default=True,
                            help="Bundled model name, local model folder, .gguf file, or API model name.")(func)

    return decorate


def model_ref(model: str, api_base: str | None, api_key_env: str) -> ModelRef:
    """The `ModelRef` that `model_options` describe."""
    if api_base is None:
        return model
    try:
        return ApiModel(base_url=api_base, model=model, api_key_env=api_key_env)
    except ValueError as exc:
        raise click.BadParameter(str(exc).splitlines()[-1].strip(), param_hint="--api-base") from None
