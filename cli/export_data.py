"""`tunewise export-data`: the user's data as a provider's fine-tuning JSONL (no upload: nothing is sent)."""
from __future__ import annotations

from pathlib import Path

import click

from tunewise.cli.options import force_option, json_option
from tunewise.cli.render import console, print_json, table


@click.command("export-data")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["openai-chat", "alpaca", "sharegpt"]), required=True,
              help="Provider format: OpenAI chat fine-tuning, Alpaca, or ShareGPT conversations.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="JSONL file to write.")
@click.option("--system", default=None, help="System prompt added to every example (openai-chat, sharegpt).")
@click.option("--tokenizer", default=None, help="Count tokens with this local model's tokenizer (default: chars/4).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=16_385, show_default=True,
              help="Token limit per example; a longer example is an error naming its line.")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Training epochs the cost estimate assumes.")
@click.option("--price-per-1m", "price", type=click.FloatRange(min=0), default=None,
              help="Provider's training price in USD per 1M trained tokens, for the cost estimate.")
@click.option("--data-format", default=None, help="Force the input's format (chat, alpaca, qa, ...).")
@force_option
@json_option
def export_data(data, fmt, out, system, tokenizer, max_tokens, epochs, price, data_format, force, as_json) -> None:
    """Write DATA in a provider's fine-tuning format, validated, with token counts and a cost estimate."""
    from tunewise.core.provider_export import export_data as run, model_token_counter

    count, name = model_token_counter(tokenizer) if tokenizer else (None, None)
    summary = run(data, out, fmt, system=system, count_tokens=count, counter_name=name, max_tokens=max_tokens,
                  epochs=epochs, usd_per_1m_tokens=price, force=force, data_format=data_format)
    if as_json:
        print_json(summary.model_dump(mode="json"))
        return
    rows = [("examples", summary.examples), ("tokens (total / mean / max)",
             f"{summary.tokens_total:,} / {summary.tokens_mean:g} / {summary.tokens_max:,}"),
            ("counted by", summary.token_counter), (f"trained tokens ({epochs} epochs)", f"{summary.trained_tokens:,}"),
            ("estimated cost (USD)", summary.estimated_usd if price is not None else "give --price-per-1m")]
    console.print(table(f"Wrote {summary.format}: {summary.path}", ["", "value"], rows))
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
