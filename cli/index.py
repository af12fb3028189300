"""`tunewise index build|update|info|eval`: a Chroma index over a corpus, kept in step incrementally."""
from __future__ import annotations

from pathlib import Path

import click

from tunewise.core.defaults import DEFAULT_EMBEDDER
from tunewise.cli.options import force_option, json_option, reading_policy, writing
from tunewise.cli.render import console, print_json, progress, table


def location_options(func):
    """Where the index lives (a folder, or a Chroma server) and which embedder reads it."""
    func = click.option("--embedder", default=DEFAULT_EMBEDDER, show_default=True,
                        help="Sentence-transformers model: bundled name or local folder.")(func)
    func = click.option("--collection", default="tunewise", show_default=True, help="Chroma collection name.")(func)
    func = click.option("--chroma-url", default=None,
                        help="A Chroma server (e.g. http://127.0.0.1:8000) instead of a local folder.")(func)
    return click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
                        help="Index folder (embedded Chroma).")(func)


def index_kwargs(index_dir, chroma_url, collection, embedder) -> dict:
    if (index_dir is None) == (chroma_url is None):
        raise click.UsageError("give exactly one of --index DIR or --chroma-url URL")
    return {"path": index_dir, "url": chroma_url, "collection": collection, "embedder": embedder}


@click.group()
def index() -> None:
    """Build and update a Chroma index over a folder of .txt/.md/.jsonl documents."""


@index.command("build")
@click.argument("corpus", type=click.Path(path_type=Path))
@location_options
@click.option("--chunk-tokens", default=None, type=int,
              help="Chunk size in the embedder's tokens [default: 200, or less if the embedder reads less; "
                   "MiniLM reads 254 plus 2 special tokens].")
@click.option("--chunk-overlap", default=None, type=int,
              help="Tokens shared by neighbouring chunks [default: 32, at most a quarter of a chunk].")
@force_option
@json_option
@reading_policy
def build(corpus, index_dir, chroma_url, collection, embedder, chunk_tokens, chunk_overlap, force, as_json, reading):
    """Index CORPUS; re-running an interrupted build finishes it."""
    from tunewise.retrieval.index import build_index

    kwargs = index_kwargs(index_dir, chroma_url, collection, embedder)
    with writing(index_dir, "index build"), progress(transient=True) as bar:
        counts = build_index(corpus, force=force, reading=reading, chunk_tokens=chunk_tokens,
                             chunk_overlap=chunk_overlap, on_progress=_reporter(bar, "Embedding chunks"), **kwargs)
    _render_counts(counts, as_json, "Index built")


@index.command("update")
@click.argument("corpus", type=click.Path(path_type=Path))
@location_options
@json_option
@reading_policy
def update(corpus, index_dir, chroma_url, collection, embedder, as_json, reading):
    """Re-index only the documents of CORPUS that were added or changed; drop deleted ones."""
    from tunewise.retrieval.index import update_index

    kwargs = index_kwargs(index_dir, chroma_url, collection, embedder)
    with writing(index_dir, "index update"), progress(transient=True) as bar:
        counts = update_index(corpus, reading=reading, on_progress=_reporter(bar, "Embedding changes"), **kwargs)
    _render_counts(counts, as_json, "Index updated")


@index.command("info")
@location_options
@json_option
def info(index_dir, chroma_url, collection, embedder, as_json):
    """Show what an index holds and how it was built."""
    from tunewise.retrieval.index import open_index

    details = open_index(**index_kwargs(index_dir, chroma_url, collection, embedder)).info()
    if as_json:
        return print_json(details)
    console.print(table(None, ["property", "value"], details.items()))


@index.command("eval")
@click.argument("qa_file", type=click.Path(path_type=Path))
@location_options
@click.option("--k", default=4, show_default=True, type=click.IntRange(1, 100), help="Chunks retrieved per question.")
@json_option
def evaluate(qa_file, index_dir, chroma_url, collection, embedder, k, as_json):
    """Retrieval quality (hit rate, MRR at k) on a QA file whose records name their source document."""
    from tunewise.core.data import load_dataset
    from tunewise.retrieval.index import open_index
    from tunewise.retrieval.quality import evaluate_retrieval

    dataset = load_dataset(qa_file, format="qa")
    quality = evaluate_retrieval(open_index(**index_kwargs(index_dir, chroma_url, collection, embedder)), dataset, k)
    if as_json:
        return print_json(quality.model_dump(mode="json"))
    console.print(table(f"Retrieval quality at k={k}", ["questions", "hit rate", "MRR"],
                        [[quality.questions, quality.hit_rate, quality.mrr]]))
    if quality.misses:
        console.print(f"missed: {', '.join(quality.misses)}", highlight=False)


def _reporter(bar, description: str):
    task = bar.add_task(description, total=None, info="")

    def report(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return report


def _render_counts(counts: dict, as_json: bool, title: str) -> None:
    if as_json:
        return print_json(counts)
    docs = ["added", "updated", "deleted", "unchanged"]
    console.print(table(f"{title}: documents", docs, [[counts[k] for k in docs]]))
    console.print(f"chunks embedded {counts['chunks_embedded']}, removed {counts['chunks_deleted']}, "
                  f"now {counts['chunks']}", highlight=False)
