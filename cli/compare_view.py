"""`tunewise compare`'s terminal tables: quality, then costs, each split to fit 80 columns with short
headers that carry the units. report.md/report.html keep the full table; `--json` the raw values."""
from __future__ import annotations

from typing import Any

from rich.table import Table

from tunewise.cli.render import fitting_tables
from tunewise.core.units import number

HEADERS = {
    "accuracy": "accuracy", "f1_macro": "macro\nF1", "rouge1": "ROUGE\n1", "rouge2": "ROUGE\n2",
    "rouge_l": "ROUGE\nL", "bleu": "BLEU", "exact_match": "exact\nmatch", "token_f1": "token\nF1",
    "perplexity": "perplexity", "hit_rate": "hit\nrate", "mrr": "MRR",
    "train_seconds": "train\ns", "peak_memory_mb": "peak\nMB", "latency_ms_p50": "p50\nms",
    "latency_ms_p95": "p95\nms", "prompt_tokens": "prompt\ntokens", "storage_mb": "disk\nMB",
    "train_usd": "train\n$", "usd_per_1k_queries": "$ per 1k\nanswers",
}


def comparison_tables(results: dict[str, Any]) -> list[Table]:
    """The metrics table (the winner marked *) and the costs table, as many parts as 80 columns need."""
    from tunewise.eval.report import columns

    metric_keys, cost_keys = columns(results)
    names = [name + (" *" if name == results["winner"] else "") for name in results["approaches"]]
    out = []
    for title, part, keys in ((f"{results['task']}: {results['primary_metric']} decides; * = measured winner",
                               "metrics", metric_keys), ("Costs", "costs", cost_keys)):
        if not keys:
            continue
        rows = [[name, *(_cell(record[part].get(k)) for k in keys)]
                for name, record in zip(names, results["approaches"].values())]
        out += fitting_tables(title, ["approach", *(HEADERS.get(k, k) for k in keys)], rows)
    return out


def _cell(value: Any) -> Any:
    return number(value) if isinstance(value, float) else value
