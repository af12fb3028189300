"""How `tunewise advise` shows a recommendation in the terminal: a table of every approach with its
estimates in units, then every reason of every approach (what blocks it first), then the limits that
could not be checked. `--json` prints the raw `Recommendation` instead."""
from __future__ import annotations

from typing import Any, Callable

from tunewise.advisor.limits import is_limit_reason, ordered_reasons, unchecked_limits
from tunewise.advisor.records import BLOCKED, Ranked, Recommendation
from tunewise.cli.render import console, table
from tunewise.core.units import duration, number, usd


def build_seconds(est: dict[str, Any]) -> float | None:
    """Time before the first answer: training, indexing (embedding the corpus), or both."""
    hours = [est[k] for k in ("train_hours", "embed_hours") if est.get(k) is not None]
    return sum(hours) * 3600 if hours else None


def _latency(est: dict[str, Any]) -> float | None:
    ms = est.get("latency_ms_per_query")
    return ms / 1000 if ms is not None else None


# (header, value from the estimates, how it is written); headers carry the unit, "\n" wraps them.
ESTIMATE_COLUMNS: tuple[tuple[str, Callable[[dict], Any], Callable[[Any], str]], ...] = (
    ("memory\nGB", lambda e: e.get("memory_gb"), number),
    ("build\ntime", build_seconds, duration),
    ("train\ncost", lambda e: e.get("train_cost_usd"), usd),
    ("time per\nanswer", _latency, duration),
    ("cost per\nanswer", lambda e: e.get("cost_per_query_usd"), usd),
    ("prompt\ntokens", lambda e: e.get("prompt_tokens_per_query"), lambda v: f"{v:,}"),
)
MISSING = {
    "train\ncost": "train cost: no price per hour given (gpu_hour_usd); build time is the cost here.",
    "cost per\nanswer": "cost per answer: no price per token given (token_usd_per_1m).",
    "time per\nanswer": "time per answer: not estimated for a model behind an API.",
    "memory\nGB": "memory: not estimated for a model behind an API (it runs at the provider).",
}


def estimate_table(rec: Recommendation):
    """The ranking with every estimate that any approach has; columns nobody has are left out."""
    values = [[get(r.estimates) for _, get, _ in ESTIMATE_COLUMNS] for r in rec.ranking]
    shown = [i for i in range(len(ESTIMATE_COLUMNS)) if any(row[i] is not None for row in values)]
    header = ["approach", "ok", "score", *(ESTIMATE_COLUMNS[i][0] for i in shown)]
    rows = []
    for ranked, row in zip(rec.ranking, values):
        cells = [row[i] if row[i] is None else ESTIMATE_COLUMNS[i][2](row[i]) for i in shown]
        rows.append([ranked.approach, "yes" if ranked.feasible else "NO", f"{ranked.score:g}", *cells])
    trains = any("train_hours" in r.estimates for r in rec.ranking)
    hidden = [MISSING[c] for c, _, _ in ESTIMATE_COLUMNS
              if c in MISSING and c not in header and (trains or c != "train\ncost")]
    return table("Approaches, best first", header, rows), ["ok: feasible here; -: does not apply.", *hidden]


def render_recommendation(rec: Recommendation) -> None:
    """The table, the recommendation's reasons, then every other approach's reasons, blocked ones marked."""
    estimates, hidden = estimate_table(rec)
    console.print(estimates)
    for line in hidden:
        console.print(f"[dim]{line}[/dim]", highlight=False)
    console.print(estimate_line(rec.ranking), highlight=False)
    top = next(r for r in rec.ranking if r.approach == rec.recommendation)
    console.print(f"\n[bold]Recommendation: {rec.recommendation}[/bold]", highlight=False)
    _print_reasons(top)
    for ranked in rec.ranking:
        if ranked is not top:
            state = "feasible" if ranked.feasible else "[red]ruled out[/red]"
            console.print(f"\n[bold]{ranked.approach}[/bold] (score {ranked.score:g}, {state})", highlight=False)
            _print_reasons(ranked)
    for line in unchecked_limits(rec):
        console.print(f"[yellow]limit not checked:[/yellow] {line}", highlight=False)
    for note in rec.profile.notes:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)
    for profile in (rec.profile.data, rec.profile.corpus):
        for warning in profile.warnings if profile else ():
            console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _print_reasons(ranked: Ranked) -> None:
    """One line per reason with a hanging indent; what blocks is marked x, an exceeded limit !."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 1), pad_edge=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for reason in ordered_reasons(ranked):
        if reason.startswith(BLOCKED):
            grid.add_row("  [red]x blocked:[/red]", reason[len(BLOCKED):])
        elif is_limit_reason(reason):
            grid.add_row("  [yellow]! limit:[/yellow]", reason)
        else:
            grid.add_row("  -", reason)
    console.print(grid, highlight=False)


def estimate_line(ranking) -> str:
    """Which approaches' time and memory estimates are measured (ledger or run.json) and which are formulas."""
    from tunewise.advisor.calibrate import estimate_sources

    measured = {a: s for a, s in estimate_sources(ranking).items() if s != "formulas"}
    if not measured:
        return "[dim]Every estimate comes from the formulas (no similar measured run in the ledger).[/dim]"
    named = ", ".join(f"{a} ({s})" for a, s in measured.items())
    return f"[dim]Time and memory calibrated from measurements: {named}; the others from the formulas.[/dim]"
