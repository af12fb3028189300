"""`tunewise route train RUN_DIR --out ROUTER`: learn from a compare run which approach answers each request."""
from __future__ import annotations

from pathlib import Path

import click

from tunewise.cli.options import force_option, json_option, writing
from tunewise.cli.render import console, fitting_tables, print_json


@click.group()
def route() -> None:
    """Route each request to the approach that answers it best for its cost."""


@route.command("train")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Router file to write (JSON).")
@click.option("--max-cost-per-answer", "max_cost", type=click.FloatRange(min=0), default=None,
              help="Operating point: the best quality costing at most this many ms per answer.")
@click.option("--max-usd-per-answer", "max_usd", type=click.FloatRange(min=0), default=None,
              help="Operating point: the best quality costing at most this many USD per answer (needs the "
                   "plan's prices).")
@click.option("--min-quality", type=click.FloatRange(0, 1), default=None,
              help="Operating point: the cheapest mix reaching this quality (the routing metric, 0-1).")
@click.option("--only", default=None, help="Comma-separated approaches of the run to route between (default: all).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the quality/cost frontier as a PNG.")
@force_option
@json_option
def train(run_dir: Path, out: Path, max_cost: float | None, max_usd: float | None, min_quality: float | None,
          only: str | None, plot: Path | None, force: bool, as_json: bool) -> None:
    """Train a router on RUN_DIR (a finished `tunewise compare --out` folder), score it out of fold
    against every approach and the oracle, and write it with its operating point. A copy is kept in
    RUN_DIR, whose report then shows the frontier."""
    from tunewise.core.errors import OutputExistsError
    from tunewise.eval.route_report import frontier_plot, keep_in_run
    from tunewise.eval.router import train_router

    if out.exists() and not force:
        raise OutputExistsError(out)
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    with writing(run_dir, "route train"):
        router = train_router(run_dir, max_cost_ms=max_cost, min_quality=min_quality, only=names, max_usd=max_usd)
        router.save(out)
        report = keep_in_run(router, report=True)
    if plot is not None:
        frontier_plot(router, plot)
    if as_json:
        print_json(router.model_dump(mode="json", exclude={"model", "oof_quality", "overhead_ms", "oof_ids"}))
        return
    for part in frontier_tables(router):
        console.print(part)
    console.print(router.verdict, highlight=False)
    console.print(f"{router.money}.", highlight=False)
    point = router.operating_point
    usd = "" if point.usd is None else f", ${point.usd:.3g}"
    console.print(f"Router: {out}  (operating point {point.name}: {router.metric} {point.quality:.3f} at "
                  f"{point.cost_ms:.0f} ms per answer{usd}; fallback {router.fallback})", highlight=False)
    if report is not None:
        console.print(f"Report with the frontier: {report}", highlight=False)


def frontier_tables(router, width: int | None = None) -> list:
    """The frontier as tables that fit the terminal (80 columns by default): headers on two lines, and
    split by columns, each part repeating the point's name, when the routes are too many for one."""
    from tunewise.eval.route_report import frontier_rows

    header, rows = frontier_rows(router)
    title = f"Quality/cost frontier, out of fold on {router.examples} examples ({router.folds} folds); * = operating point"
    header = [header[0], *("\n".join(h.rsplit(" ", 1)) for h in header[1:])]
    return fitting_tables(title, header, rows, width=width or console.width)
