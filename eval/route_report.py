"""The router's quality/cost frontier as a table and a plot, beside every single approach and the oracle.

`frontier_plot(router)` returns PNG bytes (and writes them when given a path). A router trained from a
compare run (by its `router` approach or by `route train`) is kept in the run as routing/router.json;
the run's report then shows the frontier (`routing_section`, and the plot named FRONTIER_PLOT).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tunewise.core.files import atomic_write_bytes
from tunewise.eval.plots import colour_for, png
from tunewise.eval.router import Point, RouterFile

ROUTER_IN_RUN = Path("routing") / "router.json"
FRONTIER_PLOT = "routing_frontier"


def frontier_rows(router: RouterFile) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: each single approach, the oracle, then the router's frontier, cheapest first and
    numbered (router 1, router 2, ...); the operating point is marked with *. USD per answer is a column
    only when the run's prices give it (`router.money` says why not otherwise)."""
    money = router.operating_point.usd is not None
    header = ["point", router.metric, "ms per answer", *(["$ per answer"] if money else []), "tradeoff",
              *[f"% {name}" for name in router.routes]]
    chosen = router.operating_point

    def row(name: str, point: Point) -> list[Any]:
        mark = " *" if point == chosen else ""
        return [name + mark, point.quality, point.cost_ms, *([point.usd] if money else []), point.tradeoff,
                *[round(100 * point.shares.get(route, 0.0)) for route in router.routes]]

    named = [(p.name, p) for p in [*router.singles, router.oracle]]
    named += [(f"router {i}", p) for i, p in enumerate(router.frontier, 1)]
    return header, [row(name, p) for name, p in named]


def frontier_plot(router: RouterFile, path: str | Path | None = None) -> bytes:
    """Quality against mean cost per answer: the router's frontier as a line, the approaches and the
    oracle as labelled points, the operating point circled."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    frontier = router.frontier
    ax.plot([p.cost_ms for p in frontier], [p.quality for p in frontier], "-o", color="tab:blue",
            markersize=3, label="router (out of fold)")
    for point in router.singles:
        ax.scatter(point.cost_ms, point.quality, color=colour_for(point.name), zorder=3)
        ax.annotate(point.name, (point.cost_ms, point.quality), textcoords="offset points", xytext=(4, 4))
    ax.scatter(router.oracle.cost_ms, router.oracle.quality, marker="*", s=140, color="tab:orange",
               label="oracle (best per example)", zorder=3)
    chosen = router.operating_point
    ax.scatter(chosen.cost_ms, chosen.quality, s=160, facecolors="none", edgecolors="tab:red", linewidths=2,
               label="operating point", zorder=4)
    ax.set_xscale("log")
    if chosen.usd is not None:      # the same points in money: each local answer's ms at its hour price
        ax.set_title(f"operating point: ${chosen.usd:.3g} per answer", fontsize=8, loc="right")
    ax.set_xlabel("mean cost per answer (ms, log scale)")
    ax.set_ylabel(router.metric)
    ax.set_title(f"Routing on {router.examples} examples: {'pays' if router.pays else 'does not pay'}",
                 loc="left")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    image = png(fig)
    if path is not None:
        atomic_write_bytes(path, image)
    return image


def keep_in_run(router: RouterFile, report: bool = False) -> Path | None:
    """Save the router into the run it was trained from, where the run's report finds it; with `report`,
    write a finished run's report again with the frontier in it and return its path."""
    from tunewise.eval.rereport import rewrite_report

    router.save(router.run_dir / ROUTER_IN_RUN)
    if not report or not (router.run_dir / "results.json").is_file():
        return None
    rewrite_report(router.run_dir)
    return router.run_dir / "report.html"


def router_of_run(out: str | Path, approaches: Any) -> RouterFile | None:
    """The router kept in compare folder `out`, if it routes among approaches the run still reports."""
    path = Path(out) / ROUTER_IN_RUN
    if not path.is_file():
        return None
    router = RouterFile.load(path)
    return router if set(router.routes) <= set(approaches) else None


def routing_section(router: dict[str, Any]) -> tuple[str, str, tuple[list[str], list[list[Any]]]]:
    """(heading, paragraph, frontier table) for the report, from the router file's JSON form."""
    router = RouterFile.model_validate(router)
    asked = (f" and, on every other route, the answer of {router.confidence_route}, asked first for its "
             "confidence" if router.confidence_route else "")
    text = (f"{router.verdict}\n\nA router learned from this run's own predictions which approach answers "
            f"each question ({router.metric}, out of fold: {router.folds} folds over {router.examples} examples; "
            f"features: {', '.join(router.features)}). Each router point is one tradeoff between quality and "
            f"mean cost per answer, which includes the features' time{asked}. Every single approach and the "
            f"oracle (the best approach for each example, which no router can beat) are listed first; * marks "
            f"the operating point, {router.operating_point.name} at {router.operating_point.quality:.3f} and "
            f"{router.operating_point.cost_ms:.0f} ms per answer{_usd_text(router.operating_point)}. "
            f"{router.money or 'Money per answer is unknown'}. Plot: {FRONTIER_PLOT}.")
    return "Routing per question", text, frontier_rows(router)


def _usd_text(point: Point) -> str:
    return "" if point.usd is None else f" (${point.usd:.3g} per answer)"
