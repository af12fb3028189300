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
@click.option("--router", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A router file from `tunewise route train`: route each request to its approach instead of --model.")
@click.option("--max-batch", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Concurrent requests generated together as one batch.")
@click.option("--max-queue", default=16, show_default=True, type=click.IntRange(1, 4096),
              help="Requests waiting beyond the running batch; more are answered 503 with Retry-After.")
@click.option("--request-timeout", default=60.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds a request may take (waiting included) before it is answered 504.")
def serve(model, adapter, host, port, token_env, router, max_batch, max_queue, request_timeout):
    """Serve MODEL (with an optional adapter), or a router over a compare run's approaches, for
    OpenAI-compatible clients until Ctrl-C."""
    from tunewise.retrieval.serve import Limits, start_server

    token = None
    if token_env is not None:
        token = os.environ.get(token_env)
        if not token:
            raise click.BadParameter(f"environment variable {token_env} is not set", param_hint="--token-env")
    limits = Limits(max_queue=max_queue, max_batch=max_batch, request_timeout_s=request_timeout,
                    max_connections=max_queue + max_batch + 16)
    if router is not None:
        from tunewise.eval.route_serve import start_router_server

        if adapter is not None:
            raise click.BadParameter("a router serves its run's own adapters; drop --adapter", param_hint="--adapter")

        log = lambda line: err_console.print(line, highlight=False)  # noqa: E731
        server = start_router_server(router, host=host, port=port, token=token, log=log, limits=limits)
    else:
        server = start_server(model, adapter=adapter, host=host, port=port, token=token, limits=limits)
    err_console.print(f"Serving {server.model_name} at {server.url} (Ctrl-C stops)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err_console.print("Stopped.")
    finally:
        server.server_close()
