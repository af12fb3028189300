"""Routing per question: learn from a finished compare run which approach should answer each request.

A compare run knows, example by example, each approach's quality (eval/metrics.py on that one example)
and cost (its measured latency in ms). One multi-output ridge regression (scikit-learn) predicts every
approach's quality from request-time features (eval/route_features.py); a request goes to
argmax(predicted quality - tradeoff * mean cost / largest mean cost). Sweeping the tradeoff traces the
quality/cost frontier, compared with every single approach and with the oracle (the best approach per
example). Every router number is out of fold (`cross_val_predict`): no example is scored by a model that
saw it. The operating point is one number picked on those out-of-fold scores. When the plan has prices,
every point also carries its USD per answer (eval/route_money.py), and an operating point can be a price.

For classification, the cheapest approach that scores labels also gives its confidence (the chosen label's
probability, from its predictions) as a feature. Knowing it means asking that approach first, so every
request routed elsewhere also pays that approach's answer: the cost of a cascade, counted in every point.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pydantic import Field

from tunewise.core.errors import TunewiseError
from tunewise.core.schema import Record
from tunewise.eval.route_features import FeatureExtractor, FeatureVersions, run_extractor
from tunewise.eval.route_run import ROUTING_METRIC, RunTable, confidence_route, load_run

MIN_EXAMPLES = 10
FOLDS = 5
TRADEOFFS = 121           # points of the sweep, log-spaced from 1e-3 to 1e3, plus 0
QUALITY_MARGIN = 0.005    # what "better" must exceed, so one rounding does not make routing "pay"
COST_MARGIN = 0.05        # and "cheaper": at least 5% fewer ms per answer


class Point(Record):
    """One way to answer every example: a single approach, the oracle, or the router at one tradeoff."""

    name: str
    quality: float
    cost_ms: float
    shares: dict[str, float]
    tradeoff: float | None = None       # the router's; None for a single approach or the oracle
    usd: float | None = None            # mean USD per answer from the plan's prices; None: unknown


class LinearQuality(Record):
    """The fitted scaler and ridge, as numbers: a router file is JSON, never a pickle to unpickle."""

    mean: list[float]
    scale: list[float]
    coef: list[list[float]]             # one row per route
    intercept: list[float]


class RouterFile(Record):
    """What `route train` writes and `serve --router` reads."""

    run_dir: Path
    task: str
    metric: str
    routes: list[str]                   # cheapest first (by mean cost per answer)
    route_cost_ms: list[float]
    features: list[str]
    versions: FeatureVersions
    model: LinearQuality
    examples: int
    folds: int
    singles: list[Point]
    oracle: Point
    frontier: list[Point]               # the router's non-dominated points, cheapest first
    operating_point: Point
    pays: bool
    verdict: str
    fallback: str
    oof_ids: list[str] = Field(default_factory=list)
    oof_quality: list[list[float]] = Field(default_factory=list)   # out-of-fold predictions, per example
    overhead_ms: list[float] = Field(default_factory=list)         # feature time, per example
    confidence_route: str | None = None    # the route whose confidence is the last feature (asked first)
    money: str = ""                         # how USD per answer was priced, or why it is unknown


def route_overhead(feature_ms, cost_ms, routes: Sequence[str], asked_first: str | None) -> Any:
    """What routing adds to each example's cost on each route (n x routes): the feature time, plus the
    answer of the route asked first for its confidence, on every other route."""
    import numpy as np

    feature_ms = np.asarray(feature_ms, dtype=float)
    extra = np.repeat(feature_ms[:, None], len(routes), axis=1)
    if asked_first is not None:
        first = routes.index(asked_first)
        extra += np.asarray(cost_ms, dtype=float)[:, [first]]
        extra[:, first] = feature_ms
    return extra


def train_router(run_dir: str | Path, max_cost_ms: float | None = None, min_quality: float | None = None,
                 extractor: FeatureExtractor | None = None, only: Sequence[str] | None = None,
                 folds: int = FOLDS, seed: int = 0, max_usd: float | None = None) -> RouterFile:
    """Fit the router on every example, score it out of fold, and pick its operating point."""
    import numpy as np
    from sklearn.model_selection import KFold, cross_val_predict

    run = load_run(run_dir, only)
    n = len(run.quality)
    if n < examples_needed(folds):
        raise TunewiseError(f"{run.run_dir}: {n} eval examples are too few to cross-validate a router "
                            f"(need at least {examples_needed(folds)})")
    extractor = extractor or run_extractor(run.run_dir, run.plan.embedder)
    extractor.features("warm-up")       # the first call loads lazily; it is not what a request costs
    measured = [extractor.features(r["input"]) for r in run.rows[run.names[0]]]
    asked_first = confidence_route(run)
    features = np.array([vector for vector, _ in measured])
    if asked_first is not None:         # known before answering: the asked-first route's own answer
        confidence = [r["confidence"] for r in run.rows[asked_first]]
        features = np.column_stack([features, confidence])
    feature_ms = np.array([ms for _, ms in measured])
    overhead = route_overhead(feature_ms, run.cost_ms, run.names, asked_first)
    money_note, money = run_money(run, feature_ms, asked_first)
    if max_usd is not None and money is None:
        raise TunewiseError(f"--max-usd-per-answer needs prices: {money_note[0].lower()}{money_note[1:]}")
    model = _quality_model()
    oof = cross_val_predict(model, features, run.quality, cv=KFold(folds, shuffle=True, random_state=seed))
    model.fit(features, run.quality)
    route_cost = run.cost_ms.mean(axis=0)
    singles = [_point(name, run.quality[:, a], run.cost_ms[:, a], {name: 1.0},
                      usd=None if money is None else money[0][:, a]) for a, name in enumerate(run.names)]
    frontier = sweep(run, oof, route_cost, overhead, money)
    winner, verdict = routing_verdict(frontier, singles, run, oof, route_cost, overhead, seed)
    if max_cost_ms is not None or min_quality is not None or max_usd is not None:
        chosen = pick_operating_point(frontier + singles, singles, max_cost_ms, min_quality, max_usd)
    else:       # the point the verdict names, or the best single approach when routing does not pay
        chosen = winner or max(singles, key=lambda s: (s.quality, -s.cost_ms))
    return RouterFile(
        run_dir=run.run_dir.resolve(), task=run.plan.task, metric=ROUTING_METRIC[run.plan.task], routes=run.names,
        route_cost_ms=[round(float(c), 3) for c in route_cost],
        features=[*extractor.names, *([f"confidence[{asked_first}]"] if asked_first else [])],
        versions=extractor.versions, model=_as_numbers(model), examples=n, folds=folds, singles=singles,
        oracle=oracle(run, money), frontier=frontier, operating_point=chosen, pays=winner is not None, verdict=verdict,
        fallback=most_robust(run.names), oof_ids=[r["id"] for r in run.rows[run.names[0]]],
        oof_quality=oof.round(6).tolist(), overhead_ms=feature_ms.round(3).tolist(), confidence_route=asked_first,
        money=money_note)


def run_money(run: RunTable, feature_ms, asked_first: str | None) -> tuple[str, tuple[Any, Any] | None]:
    """How money was priced (or why it is unknown) and, when known, (USD per example and route, what
    routing adds to it per example and route), priced as eval/route_money.py says."""
    from tunewise.core.device import choose_device
    from tunewise.eval.route_money import answer_money, feature_money

    answers = answer_money(run.run_dir, run.plan.prices, run.names, run.rows, run.cost_ms)
    features = feature_money(answers, run.plan.prices, feature_ms, choose_device().device)
    if not features.known:
        return features.note, None
    return features.note, (answers.usd, route_overhead(features.usd, answers.usd, run.names, asked_first))


def examples_needed(folds: int = FOLDS) -> int:
    """The fewest eval examples a router is trained and scored out of fold on."""
    return max(MIN_EXAMPLES, 2 * folds)


def _quality_model():
    import numpy as np
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # A few dozen examples against 384 embedding dimensions: only a strongly regularised linear model
    # has a chance; RidgeCV picks the strength by leave-one-out inside each training fold.
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 13)))


def _as_numbers(model) -> LinearQuality:
    scaler, ridge = model[0], model[-1]
    return LinearQuality(mean=scaler.mean_.tolist(), scale=scaler.scale_.tolist(), coef=ridge.coef_.tolist(),
                         intercept=list(map(float, ridge.intercept_)))


def predicted_quality(model: LinearQuality, features) -> Any:
    """The stored ridge applied to feature rows: the same numbers scikit-learn's `predict` gives."""
    import numpy as np

    x = (np.atleast_2d(np.asarray(features, dtype=float)) - np.array(model.mean)) / np.array(model.scale)
    return x @ np.array(model.coef).T + np.array(model.intercept)


def choose_routes(predicted, route_cost, tradeoff: float) -> Any:
    """Index of the route for each row: predicted quality minus the tradeoff times its relative cost.
    Routes are ordered cheapest first, so a tie goes to the cheaper one."""
    import numpy as np

    cost = np.asarray(route_cost, dtype=float)
    return np.argmax(np.atleast_2d(predicted) - tradeoff * cost / cost.max(), axis=1)


def _point(name: str, quality, cost, shares: dict[str, float], tradeoff: float | None = None,
           usd=None) -> Point:
    # USD per answer is often millionths of a dollar: kept to 4 significant digits, not 4 decimals
    return Point(name=name, quality=round(float(quality.mean()), 4), cost_ms=round(float(cost.mean()), 2),
                 shares={k: round(v, 4) for k, v in shares.items()}, tradeoff=tradeoff,
                 usd=None if usd is None else float(f"{float(usd.mean()):.4g}"))


def routed(run: RunTable, choice, overhead) -> tuple[Any, Any]:
    """Per-example quality and cost when example i is answered by route choice[i], plus what routing
    adds: `overhead` per example, or per example and route (`route_overhead`)."""
    import numpy as np

    return run.quality[np.arange(len(choice)), choice], _spent(run.cost_ms, choice, overhead)


def _spent(cost, choice, overhead) -> Any:
    """Per-example cost (ms or USD, n x routes) on route choice[i], plus `overhead` per example or per
    example and route."""
    import numpy as np

    rows = np.arange(len(choice))
    extra = np.asarray(overhead, dtype=float)
    return cost[rows, choice] + (extra[rows, choice] if extra.ndim == 2 else extra)


def sweep(run: RunTable, oof, route_cost, overhead, money: tuple[Any, Any] | None = None) -> list[Point]:
    """The router's points over the tradeoff, keeping those no other point beats on quality and ms per
    answer together; with `money` (from `run_money`), also those none beats on quality and USD per answer."""
    import numpy as np

    seen, points = set(), []
    for tradeoff in [0.0, *np.logspace(-3, 3, TRADEOFFS - 1)]:
        choice = choose_routes(oof, route_cost, tradeoff)
        if tuple(choice) in seen:
            continue
        seen.add(tuple(choice))
        quality, cost = routed(run, choice, overhead)
        shares = {name: float(np.mean(choice == a)) for a, name in enumerate(run.names)}
        usd = None if money is None else _spent(money[0], choice, money[1])
        points.append(_point("router", quality, cost, shares, round(float(tradeoff), 6), usd))
    kept = [p for p in points if not any(_dominates(q, p) for q in points)
            or (money is not None and not any(_dominates(q, p, "usd") for q in points))]
    return sorted(kept, key=lambda p: (p.cost_ms, -p.quality))


def _dominates(a: Point, b: Point, cost: str = "cost_ms") -> bool:
    """a is at least as good and as cheap as b, and better on one of the two."""
    a_cost, b_cost = getattr(a, cost), getattr(b, cost)
    return a.quality >= b.quality and a_cost <= b_cost and (a.quality, a_cost) != (b.quality, b_cost)


def oracle(run: RunTable, money: tuple[Any, Any] | None = None) -> Point:
    """The best approach for each example (the cheapest of those tied): what no router can beat."""
    import numpy as np

    best = run.quality.max(axis=1, keepdims=True)
    cost = np.where(run.quality >= best, run.cost_ms, np.inf)
    choice = cost.argmin(axis=1)
    quality, spent = routed(run, choice, np.zeros(len(choice)))
    usd = None if money is None else _spent(money[0], choice, np.zeros(len(choice)))
    return _point("oracle", quality, spent, {n: float(np.mean(choice == a)) for a, n in enumerate(run.names)},
                  usd=usd)


def _on_mix_lines(singles: list[Point], x: float, along: str, value: str):
    """Where a random mix of two approaches that is at `x` on axis `along` lies on axis `value`."""
    for low in singles:
        for high in singles:
            start, stop = getattr(low, along), getattr(high, along)
            if start <= x <= stop and stop > start:
                share = (x - start) / (stop - start)
                yield getattr(low, value) + share * (getattr(high, value) - getattr(low, value))


def mixed_quality(singles: list[Point], cost: float) -> float:
    """The best quality that sending each request to a single approach at random reaches within `cost`:
    the upper line through the approaches' points. A router earns its keep only above it."""
    within = [s.quality for s in singles if s.cost_ms <= cost]
    return max([*within, *_on_mix_lines(singles, cost, "cost_ms", "quality")], default=float("-inf"))


def mixed_cost(singles: list[Point], quality: float) -> float:
    """The least mean cost at which a random mix of the approaches reaches `quality`."""
    reaching = [s.cost_ms for s in singles if s.quality >= quality]
    return min([*reaching, *_on_mix_lines(singles, quality, "quality", "cost_ms")], default=float("inf"))


def routing_verdict(frontier: list[Point], singles: list[Point], run: RunTable, oof, route_cost, overhead,
                    seed: int) -> tuple[Point | None, str]:
    """The router point that beats every single approach and every random mix of them by the widest
    margin (None when none does by QUALITY_MARGIN or COST_MARGIN), and the verdict in numbers."""
    best = max(singles, key=lambda s: (s.quality, -s.cost_ms))
    n = len(run.quality)
    wins = [r for r in frontier if r.quality > mixed_quality(singles, r.cost_ms) + QUALITY_MARGIN
            or r.cost_ms < mixed_cost(singles, min(r.quality, best.quality)) * (1 - COST_MARGIN)]
    if not wins:
        dominant = all(best.cost_ms <= s.cost_ms for s in singles)
        why = "is both the best and the cheapest approach, and no router point beats it" if dominant else \
            "is the best approach, and no router point beats sending requests to the approaches at random"
        return None, (f"Routing does not pay on these {n} examples: {best.name} ({best.quality:.3f} at "
                       f"{best.cost_ms:.0f} ms per answer) {why} out of fold; send everything to {best.name}.")
    router = max(wins, key=lambda r: (r.quality - mixed_quality(singles, r.cost_ms), -r.cost_ms))
    low, high = _difference_interval(run, oof, route_cost, overhead, router, run.names.index(best.name), seed)
    return router, (f"Routing pays on these {n} examples: the router at tradeoff {router.tradeoff:g} scores "
                  f"{router.quality:.3f} at {router.cost_ms:.0f} ms per answer, where mixing the approaches at "
                  f"random reaches {max(mixed_quality(singles, router.cost_ms), 0):.3f}; {best.name} alone scores "
                  f"{best.quality:.3f} at {best.cost_ms:.0f} ms (out of fold; 95% interval of the quality "
                  f"difference to {best.name} {low:+.3f} to {high:+.3f}).")


def _difference_interval(run: RunTable, oof, route_cost, overhead, router: Point, single: int,
                         seed: int) -> tuple[float, float]:
    """Seeded paired bootstrap of the per-example quality difference, router minus the single approach."""
    import numpy as np
    from scipy.stats import bootstrap

    quality, _ = routed(run, choose_routes(oof, route_cost, router.tradeoff), overhead)
    difference = quality - run.quality[:, single]
    if np.ptp(difference) == 0:
        return float(difference[0]), float(difference[0])
    result = bootstrap((difference,), np.mean, confidence_level=0.95, method="percentile",
                       rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def pick_operating_point(points: list[Point], singles: list[Point], max_cost_ms: float | None = None,
                         min_quality: float | None = None, max_usd: float | None = None) -> Point:
    """The best quality within a cost (ms or USD per answer), the cheapest reaching a quality, or by
    default the cheapest that reaches the best single approach's quality (a single approach itself when
    nothing mixes better)."""
    if sum(x is not None for x in (max_cost_ms, min_quality, max_usd)) > 1:
        raise TunewiseError("give one of --max-cost-per-answer, --max-usd-per-answer and --min-quality")
    by_quality = lambda p: (p.quality, -p.cost_ms, p.tradeoff is None)   # noqa: E731
    by_cost = lambda p: (-p.cost_ms, p.quality, p.tradeoff is None)      # noqa: E731
    if max_usd is not None:
        within = [p for p in points if p.usd is not None and p.usd <= max_usd]
        if not within:
            cheapest = min(p.usd for p in points if p.usd is not None)
            raise TunewiseError(f"no operating point costs ${max_usd:g} per answer or less; "
                                f"the cheapest costs ${cheapest:.4g}")
        return max(within, key=lambda p: (p.quality, -p.usd, p.tradeoff is None))
    if max_cost_ms is not None:
        within = [p for p in points if p.cost_ms <= max_cost_ms]
        if not within:
            cheapest = min(p.cost_ms for p in points)
            raise TunewiseError(f"no operating point costs {max_cost_ms:g} ms per answer or less; "
                                f"the cheapest costs {cheapest:.1f} ms")
        return max(within, key=by_quality)
    target = max(s.quality for s in singles) if min_quality is None else min_quality
    reaching = [p for p in points if p.quality >= target]
    if not reaching:
        best = max(p.quality for p in points)
        raise TunewiseError(f"no operating point reaches quality {min_quality:g}; the best reaches {best:.3f}")
    return max(reaching, key=by_cost)


# Fewest moving parts first: no adapter, no index, no network. A failed route falls back to the first.
ROBUSTNESS = ("zero-shot", "few-shot", "head", "lora", "full", "prompt-tuning", "qlora", "rag", "rag+lora")


def most_robust(names: Sequence[str]) -> str:
    rank = {name: i for i, name in enumerate(ROBUSTNESS)}
    return min(names, key=lambda n: (n.startswith("api-"), rank.get(n.removeprefix("api-"), len(rank))))


def route_of(router: RouterFile, predicted) -> list[str]:
    """Route names for rows of predicted quality, at the router's operating point."""
    point = router.operating_point
    if point.tradeoff is None:
        return [point.name] * len(predicted)
    return [router.routes[i] for i in choose_routes(predicted, router.route_cost_ms, point.tradeoff)]


def score_router_out_of_fold(run_dir: str | Path, router: RouterFile | None = None) -> list[dict]:
    """The router as one more approach of the run: a prediction row per eval example (the chosen route's
    answer, its latency plus the feature time, and `route`), every choice made out of fold."""
    router = router if router is not None else train_router(run_dir)
    run = load_run(run_dir, router.routes)
    if router.oof_ids != [r["id"] for r in run.rows[run.names[0]]] or router.routes != run.names:
        raise TunewiseError(f"the router was trained on another run than {run.run_dir}; train it on this one")
    constant = router.operating_point.tradeoff is None
    overhead = route_overhead(router.overhead_ms, run.cost_ms, run.names, router.confidence_route)
    rows = []
    for i, name in enumerate(route_of(router, router.oof_quality)):
        row = dict(run.rows[name][i])
        extra = 0.0 if constant else float(overhead[i, run.names.index(name)])
        rows.append({**row, "latency_ms": round(row["latency_ms"] + extra, 2), "route": name})
    return rows
