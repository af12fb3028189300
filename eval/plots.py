"""The report's plots: each approach keeps one colour in every report, legends sit outside the data,
labels are never clipped, and a plot with too little to show (one point, one approach) is not drawn."""
from __future__ import annotations

import io
import zlib
from typing import Any

from tunewise.core import registry

# Colour-blind-safe (Okabe-Ito, then Tol's muted); keyed by the registry's order (the built-in approaches
# register first, in a fixed order), never by an approach's position in one run.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#882255",
           "#44AA99", "#999933", "#AA4499", "#000000")
SCALE_FREE = ("bleu", "perplexity")     # metrics that are not 0-1 scores


def colour_for(name: str) -> str:
    """The same colour for an approach in every report: its place in the registry, else a hash of its name.

    `api-few-shot` shares `few-shot`'s colour (its marker differs), so the two read as one approach on two models.
    """
    base, _ = registry.split_api(name)
    builtin = registry.names()
    if base in builtin:
        return PALETTE[builtin.index(base) % len(PALETTE)]
    return PALETTE[zlib.crc32(base.encode("utf-8")) % len(PALETTE)]


def marker_for(name: str) -> str:
    return "s" if registry.split_api(name)[1] else "o"


def report_plots(results: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes by name, for the plots that have something to show."""
    import matplotlib

    matplotlib.use("Agg")
    approaches = results["approaches"]
    out = {}
    primary = results["primary_metric"]
    if sum(primary in r.get("metrics", {}) for r in approaches.values()) >= 2:
        out["quality_vs_cost"] = quality_vs_cost(results)
    if any(len(r.get("losses") or []) >= 2 for r in approaches.values()):
        out["loss_curves"] = loss_curves(results)
    if any(r.get("per_class_f1") for r in approaches.values()):
        out["per_class_f1"] = per_class(results)
    return out


def png(fig) -> bytes:
    """Saved with a tight bounding box, so labels and an outside legend are inside the image."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return buffer.getvalue()


def outside_legend(ax) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8, frameon=False)


def quality_vs_cost(results: dict[str, Any]) -> bytes:
    import matplotlib.pyplot as plt

    from tunewise.eval.report import LABELS

    primary = results["primary_metric"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    latencies = []
    for name, r in results["approaches"].items():
        x, y = r["costs"]["latency_ms_p50"], r["metrics"].get(primary)
        if y is None:
            continue
        latencies.append(x)
        ax.scatter(x, y, s=40 + min(r["costs"].get("train_seconds") or 0, 600) / 2, alpha=0.8,
                   color=colour_for(name), marker=marker_for(name), label=name, edgecolors="white")
    if latencies and min(latencies) > 0 and max(latencies) / min(latencies) > 20:
        ax.set_xscale("log")
    ax.margins(0.15)
    if primary not in SCALE_FREE:
        ax.set_ylim(-0.03, 1.03)   # a 0-1 score on its whole range: equal scores do not fake a spread
    ax.set_xlabel("median latency per answer (ms)")
    ax.set_ylabel(LABELS[primary])
    ax.set_title("Quality against latency (marker area grows with training time)", fontsize=10)
    outside_legend(ax)
    return png(fig)


def loss_curves(results: dict[str, Any]) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, r in results["approaches"].items():
        if len(r.get("losses") or []) >= 2:
            steps, losses = zip(*r["losses"])
            ax.plot(steps, losses, marker="o", markersize=3, label=name, color=colour_for(name))
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss")
    ax.set_title("Training loss", fontsize=10)
    outside_legend(ax)
    return png(fig)


def per_class(results: dict[str, Any]) -> bytes:
    import matplotlib.pyplot as plt
    import numpy as np

    named = {n: r["per_class_f1"] for n, r in results["approaches"].items() if r.get("per_class_f1")}
    labels = sorted({label for scores in named.values() for label in scores})
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(labels) + 2), 4))
    width = 0.8 / len(named)
    for i, (name, scores) in enumerate(named.items()):
        ax.bar(np.arange(len(labels)) + i * width, [scores.get(label, 0.0) for label in labels], width,
               label=name, color=colour_for(name))
    ax.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("F1 (per class)")
    ax.set_ylim(0, 1.05)
    ax.set_title("F1 per class", fontsize=10)
    outside_legend(ax)
    return png(fig)
