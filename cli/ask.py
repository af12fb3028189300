"""`tunewise ask`: a grounded answer from the index, with its sources."""
from __future__ import annotations

import click

from tunewise.cli.index import index_kwargs, location_options
from tunewise.cli.options import json_option, model_options, model_ref
from tunewise.cli.render import console, print_json, table


@click.command()
@click.argument("question")
@location_options
@click.option("--k", default=4, show_default=True, type=click.IntRange(1, 50), help="Chunks to retrieve.")
@model_options()
@click.option("--adapter", type=click.Path(exists=True, file_okay=False), default=None,
              help="A PEFT adapter folder to load on top of --model.")
@click.option("--max-new-tokens", default=128, show_default=True, type=click.IntRange(1, 2048))
@click.option("--show-context", is_flag=True, help="Also print the retrieved passages.")
@json_option
def ask(question, index_dir, chroma_url, collection, embedder, k, model, api_base, api_key_env, adapter,
        max_new_tokens, show_context, as_json):
    """Answer QUESTION from the index with the configured model, citing the source documents."""
    from tunewise.retrieval.rag import ask as answer_question

    kwargs = index_kwargs(index_dir, chroma_url, collection, embedder)
    with console.status("Retrieving and generating...") if not as_json else _nothing():
        result = answer_question(question, model_ref(model, api_base, api_key_env), adapter=adapter, k=k,
                                 max_new_tokens=max_new_tokens, **kwargs)
    if as_json:
        return print_json(result.to_dict(with_context=show_context))
    if show_context:
        console.print(table("Retrieved context", ["#", "source", "chunk", "score", "text"],
                            [[i, h.source, h.chunk, h.score, h.text] for i, h in enumerate(result.hits, 1)]))
    console.print(result.text or "(the model gave an empty answer)", highlight=False, markup=False)
    console.print(f"\nSources: {', '.join(result.sources) or 'none'}", highlight=False, markup=False)


def _nothing():
    from contextlib import nullcontext

    return nullcontext()
