"""`tunewise serve`: a local model behind an OpenAI-compatible /v1/chat/completions."""
from __future__ import annotations

import os

import click

from tunewise.core.defaults import DEFAULT_GENERATOR
from tunewise.cli.render import err_console


@click.command()
@click.option("--model", default=DEFAULT_GENERATOR, show_default=True,
              help="Bundled model name, local (e.g. merged) model folder or .gguf file.")
@click.option("--adapter", type=click.Path(exists=True, file_okay=False), default=None,
              help="A PEFT adapter folder to serve on top of --model.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token-env", default=None,
              help="Environment variable holding a bearer token that clients must send.")
def serve(model, adapter, host, port, token_env):
    """Serve MODEL (with an optional adapter) for OpenAI-compatible clients until Ctrl-C."""
    from tunewise.retrieval.serve import start_server

    token = None
    if token_env is not None:
        token = os.environ.get(token_env)
        if not token:
            raise click.BadParameter(f"environment variable {token_env} is not set", param_hint="--token-env")
    server = start_server(model, adapter=adapter, host=host, port=port, token=token)
    err_console.print(f"Serving {server.model_name} at {server.url} (Ctrl-C stops)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err_console.print("Stopped.")
    finally:
        server.server_close()
