"""The router's quality/cost frontier as a table and a plot, beside every single approach and the oracle.

`frontier_plot(router)` returns PNG bytes (and writes them when given a path), for the compare report.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tunewise.core.files import atomic_write_bytes
from tunewise.eval.plots import png
from tunewise.eval.router import Point, RouterFile


def frontier_rows(router: RouterFile) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: each single approach, the oracle, then the router's frontier, cheapest first;
    the operating point is marked with *."""
    header = ["point", router.metric, "ms per answer", "tradeoff", *[f"% {name}" for name in router.routes]]
    chosen = router.operating_point

    def row(point: Point) -> list[Any]:
        mark = " *" if point == chosen else ""
        return [point.name + mark, point.quality, point.cost_ms, point.tradeoff,
                *[round(100 * point.shares.get(name, 0.0)) for name in router.routes]]

    points = [*router.singles, router.oracle, *router.frontier]
    return header, [row(p) for p in points]


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
        ax.scatter(point.cost_ms, point.quality, color="tab:gray", zorder=3)
        ax.annotate(point.name, (point.cost_ms, point.quality), textcoords="offset points", xytext=(4, 4))
    ax.scatter(router.oracle.cost_ms, router.oracle.quality, marker="*", s=140, color="tab:orange",
               label="oracle (best per example)", zorder=3)
    chosen = router.operating_point
    ax.scatter(chosen.cost_ms, chosen.quality, s=160, facecolors="none", edgecolors="tab:red", linewidths=2,
               label="operating point", zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("mean cost per answer (ms, log scale)")
    ax.set_ylabel(router.metric)
    ax.set_title(f"Routing on {router.examples} examples: {'pays' if router.pays else 'does not pay'}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    image = png(fig)
    if path is not None:
        atomic_write_bytes(path, image)
    return image
