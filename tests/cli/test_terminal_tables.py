"""The terminal tables as a user sees them at 80 columns: nothing wider, no number broken across lines."""
from __future__ import annotations

import re

import pytest
from rich.console import Console

from tunewise.advisor.records import Answers
from tunewise.advisor.rules import recommend
from tunewise.cli.advice_view import estimate_table, render_recommendation
from tunewise.cli.compare_view import comparison_tables

NUMBER = re.compile(r"[$]?\d[\d,.]*")
SITUATIONS = {
    "cpu": Answers(task="qa", labelled_examples=42, corpus_documents=30, knowledge_changes="monthly",
                   long_tail=True, latency_ms=2000, budget_usd=5),
    "gpu-priced": Answers(task="generation", labelled_examples=25000, corpus_documents=1200, model_params_b=70,
                          gpu_memory_gb=80, gpu_hour_usd=2.5, budget_usd=40, latency_ms=150),
    "api": Answers(task="classification", labelled_examples=800, model_access="api-only",
                   token_usd_per_1m=0.6, cost_per_query_usd=0.0001, latency_ms=300),
}


def rendered(*renderables, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    for renderable in renderables:
        console.print(renderable)
    return console.export_text().splitlines()


def assert_numbers_whole(lines: list[str], cells: list[str]) -> None:
    """Every number of every cell appears unbroken on one line."""
    for cell in cells:
        for number in NUMBER.findall(cell):
            assert any(number in line for line in lines), f"{number!r} (cell {cell!r}) is split:\n" + "\n".join(lines)


def cell_texts(table) -> list[str]:
    return [str(cell) for column in table.columns for cell in column.cells]


@pytest.mark.parametrize("situation", sorted(SITUATIONS))
def test_advise_table_fits_80_columns_with_every_estimate_in_units(situation):
    rec = recommend(SITUATIONS[situation])
    table, notes = estimate_table(rec)
    lines = rendered(table)
    assert max(len(line) for line in lines) <= 80
    assert_numbers_whole(lines, cell_texts(table))
    header = " ".join(column.header for column in table.columns)
    if situation == "gpu-priced":   # every estimate is known: every column is shown
        for words in ("memory\nGB", "build\ntime", "train\ncost", "time per\nanswer", "prompt\ntokens"):
            assert words in header
        costs = [str(c) for c in table.columns[[c.header for c in table.columns].index("train\ncost")].cells]
        assert any(c.startswith("$") for c in costs)
        times = [str(c) for c in table.columns[[c.header for c in table.columns].index("build\ntime")].cells]
        assert any(re.fullmatch(r"[\d.,]+ (ms|s|min|h|d)", t) for t in times)
    if situation == "api":          # nothing runs here: no memory or local latency, money per answer instead
        assert "memory\nGB" not in header and "cost per\nanswer" in header
        assert any("memory: not estimated" in note for note in notes)


def test_blocked_reasons_come_first_and_marked_and_limits_are_visible():
    rec = recommend(SITUATIONS["api"])
    text = "\n".join(rendered_recommendation(rec))
    lora = text.split("\nlora (")[1]
    first_reason = lora.splitlines()[1]
    assert "x blocked:" in first_reason and "api-only" in first_reason
    assert "! limit:" in text and "over cost_per_query_usd" in text
    assert "limit not checked: latency_ms 300 could not be checked" in text


def rendered_recommendation(rec) -> list[str]:
    from tunewise.cli import advice_view

    console = Console(width=80, record=True, color_system=None)
    original = advice_view.console
    advice_view.console = console
    try:
        render_recommendation(rec)
    finally:
        advice_view.console = original
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    return lines


def wide_results() -> dict:
    """A question-answering comparison with every metric and cost column the report knows."""
    def approach(seed: float) -> dict:
        return {"metrics": {"exact_match": 0.1234 * seed, "token_f1": 0.4567 * seed, "rouge_l": 0.3456 * seed,
                            "perplexity": 12.345 * seed, "hit_rate": 0.8123, "mrr": 0.6543},
                "costs": {"train_seconds": 1234.56 * seed, "peak_memory_mb": 12345.6 * seed,
                          "latency_ms_p50": 4510.23 * seed, "latency_ms_p95": 9876.54 * seed,
                          "prompt_tokens": 1016.4, "storage_mb": 8.765 * seed, "train_usd": 0.1234 * seed,
                          "usd_per_1k_queries": 0.0457 * seed}, "examples": 30}
    return {"task": "qa", "primary_metric": "token_f1", "winner": "rag+lora",
            "approaches": {"zero-shot": approach(1.0), "prompt-tuning": approach(1.3), "rag+lora": approach(1.7)}}


def test_compare_tables_fit_80_columns_without_splitting_numbers():
    tables = comparison_tables(wide_results())
    lines = rendered(*tables)
    assert max(len(line) for line in lines) <= 80
    assert len(tables) >= 2
    for table in tables:
        assert_numbers_whole(lines, cell_texts(table))
    text = "\n".join(lines)
    assert "rag+lora *" in text and "prompt-tuning" in text


def five_route_router():
    """A router between five routes (two of them API models), with money: the widest frontier table."""
    from tunewise.eval.route_features import FeatureVersions
    from tunewise.eval.router import LinearQuality, Point, RouterFile

    routes = ["zero-shot", "few-shot", "head", "api-zero-shot", "api-few-shot"]

    def point(name, quality, ms, usd, tradeoff=None, share=None):
        shares = share or {name: 1.0}
        return Point(name=name, quality=quality, cost_ms=ms, shares=shares, tradeoff=tradeoff, usd=usd)

    singles = [point(r, 0.3 + 0.1 * i, 100.0 * (i + 1), 1.234e-05 * (i + 1)) for i, r in enumerate(routes)]
    frontier = [point("router", 0.8123, 1234.56, 0.0001234, 0.031623, {"head": 0.45, "api-few-shot": 0.55}),
                point("router", 0.8567, 2345.67, 0.0002345, 0.001, {"head": 0.25, "api-few-shot": 0.75})]
    oracle = point("oracle", 0.95, 567.8, 5.678e-05, share={"head": 0.6, "api-zero-shot": 0.4})
    return RouterFile(run_dir="run", task="classification", metric="accuracy", routes=routes,
                      route_cost_ms=[p.cost_ms for p in singles], features=["embedding[384]", "log_words"],
                      versions=FeatureVersions(embedder="minilm-l6", embedding_dim=384),
                      model=LinearQuality(mean=[0.0], scale=[1.0], coef=[[0.0]] * 5, intercept=[0.0] * 5),
                      examples=45, folds=5, singles=singles, oracle=oracle, frontier=frontier,
                      operating_point=frontier[0], pays=True, verdict="Routing pays", fallback="zero-shot")


def test_route_frontier_tables_show_whole_headers_at_80_columns():
    from tunewise.cli.route import frontier_tables

    tables = frontier_tables(five_route_router(), width=80)
    lines = rendered(*tables)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text                                 # no header or cell cut short
    for words in ("accuracy", "answer", "tradeoff", "zero-shot", "api-zero-shot", "api-few-shot", "head"):
        assert words in text
    assert text.count("ms per") >= 1 and text.count("$ per") >= 1
    for table in tables:
        assert_numbers_whole(lines, cell_texts(table))
    # the point's name starts every part, so each row of every part says which point it is
    assert all(t.columns[0].header == "point" for t in tables)
    assert "router 1 *" in text and "router 2" in text and "oracle" in text


def test_the_ledger_fits_80_columns_with_every_cell_whole():
    from tunewise.cli.history import history_tables
    from tunewise.core.ledger import MeasuredRun

    runs = [MeasuredRun(kind=kind, approach=approach, task="qa", examples=120, model="smollm2-135m-instruct",
                        metric="token_f1", metric_value=0.1485, train_seconds=37.21, peak_memory_mb=2819.0,
                        latency_ms_p50=425.9, recorded_at="2026-12-03T15:27:54Z")
            for kind, approach in (("compare", "few-shot-opt"), ("pilot", "rag+lora"), ("tune", "lora"))]
    tables = history_tables("Measured runs in /home/someone/.cache/tunewise/ledger.sqlite", runs, 80)
    lines = rendered(*tables)
    assert max(len(line) for line in lines) <= 80 and not any("…" in line for line in lines)
    assert_numbers_whole(lines, [c for t in tables for c in cell_texts(t)])
    assert sum("2026-12-03 15:27" in line for line in lines) == 3          # minutes, UTC, once per run
    # split by columns where it must, every part led by the row numbers that match its rows
    assert len(tables) > 1 and all(t.columns[0].header == "#" for t in tables)
    assert [str(c) for c in tables[-1].columns[0].cells] == ["1", "2", "3"]
