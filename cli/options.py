"""Options shared by several commands, as decorators, so each is spelled and parsed one way."""
from __future__ import annotations

import click

from tunewise.core.defaults import DEFAULT_GENERATOR
from tunewise.core.schema import ApiModel, ModelRef

force_option = click.option("--force", is_flag=True, help="Overwrite an existing output.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON for scripts.")


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
