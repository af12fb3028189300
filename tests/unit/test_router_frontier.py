"""The frontier, the verdict and the operating point on hand-made quality/cost tables (pure numpy)."""
from pathlib import Path

import numpy as np
import pytest

from tunewise.core.errors import TunewiseError
from tunewise.eval.route_run import RunTable
from tunewise.eval.router import (
    Point, _point, choose_routes, mixed_quality, most_robust, oracle, pick_operating_point, route_overhead, routed,
    routing_verdict, sweep,
)


def table(quality, cost) -> RunTable:
    quality, cost = np.array(quality, dtype=float), np.array(cost, dtype=float)
    return RunTable(Path("run"), None, 16, ["cheap", "dear"], {}, quality, cost)


def singles(run: RunTable):
    return [_point(n, run.quality[:, a], run.cost_ms[:, a], {n: 1.0}) for a, n in enumerate(run.names)]


def verdict(run: RunTable, predicted):
    overhead = np.full(len(run.quality), 1.0)
    route_cost = run.cost_ms.mean(axis=0)
    frontier = sweep(run, predicted, route_cost, overhead)
    return frontier, routing_verdict(frontier, singles(run), run, predicted, route_cost, overhead, seed=0)


def test_routing_pays_when_approaches_win_on_different_examples():
    """cheap is right on the first six examples, dear on the last four: a router that knows which sends
    six of ten to cheap and reaches dear's quality and more, at well under dear's cost."""
    run = table([[1, 0]] * 6 + [[0, 1]] * 4, [[10, 100]] * 10)
    frontier, (winner, text) = verdict(run, run.quality)
    assert text.startswith("Routing pays on these 10 examples: the router at tradeoff")
    assert winner.quality == 1.0 and "mixing the approaches at random reaches 0.600" in text
    best = max(frontier, key=lambda p: p.quality)
    assert best.quality == 1.0 and best.cost_ms == pytest.approx(0.6 * 10 + 0.4 * 100 + 1.0)
    assert best.shares == {"cheap": 0.6, "dear": 0.4}
    assert oracle(run).quality == 1.0 and oracle(run).cost_ms == pytest.approx(46.0)
    assert winner == best
    # asked for the best single approach's quality (0.6) at the least cost: cheap alone is that
    assert pick_operating_point(frontier + singles(run), singles(run)).name == "cheap"


def test_routing_does_not_pay_when_one_approach_dominates():
    run = table([[1, 0]] * 7 + [[1, 1]] * 3, [[10, 100]] * 10)     # cheap is never worse
    frontier, (winner, text) = verdict(run, run.quality)
    assert winner is None and "cheap (1.000 at 10 ms per answer) is both the best and the cheapest approach" in text
    assert all(p.cost_ms > 10 for p in frontier)                   # the features cost something


def test_a_router_that_predicts_nothing_useful_does_not_pay():
    run = table([[1, 0]] * 4 + [[0, 1]] * 6, [[10, 100]] * 10)
    _, (winner, text) = verdict(run, np.zeros((10, 2)))      # no idea which is right: always the cheaper
    assert winner is None and "dear (0.600 at 100 ms per answer) is the best approach" in text
    assert "no router point beats sending requests to the approaches at random" in text


def test_a_hair_better_and_a_little_cheaper_is_not_paying():
    """The built-in QA run's case: rag's quality plus 0.0004 at 4% less cost is inside the margins
    (0.005 quality above the random-mix line, 5% cost below it), so it is noise, not a win."""
    run = table([[0, 0]] * 34, [[341, 21291]] * 34)
    singles = [Point(name="lora", quality=0.088, cost_ms=341.4, shares={"lora": 1.0}),
               Point(name="rag", quality=0.122, cost_ms=21291, shares={"rag": 1.0})]
    router = Point(name="router", quality=0.1224, cost_ms=20365, shares={"lora": 0.06, "rag": 0.94}, tradeoff=0.0)
    assert mixed_quality(singles, router.cost_ms) == pytest.approx(0.088 + 0.034 * (20365 - 341.4) / (21291 - 341.4))
    winner, text = routing_verdict([router], singles, run, np.zeros((34, 2)), [341, 21291], np.zeros(34), 0)
    assert winner is None and "rag (0.122 at 21291 ms per answer) is the best approach" in text


def test_operating_point_options():
    run = table([[1, 0]] * 6 + [[0, 1]] * 4, [[10, 100]] * 10)
    frontier, _ = verdict(run, run.quality)
    points = frontier + singles(run)
    assert pick_operating_point(points, singles(run), max_cost_ms=20).name == "cheap"
    assert pick_operating_point(points, singles(run), min_quality=0.9).quality == 1.0
    with pytest.raises(TunewiseError, match="no operating point reaches quality 1.5"):
        pick_operating_point(points, singles(run), min_quality=1.5)
    with pytest.raises(TunewiseError, match="costs 5 ms per answer or less"):
        pick_operating_point(points, singles(run), max_cost_ms=5)


def test_ties_go_to_the_cheaper_route_and_fallback_is_the_most_robust():
    assert list(choose_routes(np.array([[0.5, 0.5]]), [10, 100], 0.0)) == [0]
    assert list(choose_routes(np.array([[0.1, 0.9]]), [10, 100], 1.0)) == [0]
    assert most_robust(["rag", "lora", "api-zero-shot"]) == "lora"
    assert most_robust(["rag", "zero-shot", "few-shot"]) == "zero-shot"


def test_label_confidence_is_the_softmax_of_the_summed_label_scores():
    from tunewise.eval.systems import label_confidence

    e = np.exp([-1.0, -2.0, -3.0])
    assert label_confidence([-1.0, -2.0, -3.0], 0) == pytest.approx(e[0] / e.sum())      # 0.665
    assert label_confidence([-1.0, -2.0, -3.0], 2) == pytest.approx(e[2] / e.sum())
    assert label_confidence([-700.0, -700.0], 1) == pytest.approx(0.5)                    # no underflow
    assert label_confidence([-4.0, -4.0, -4.0, -4.0], 0) == pytest.approx(0.25)


def test_asking_the_confident_route_first_is_paid_on_every_other_route():
    """cheap is asked first for its confidence: its own answers cost it once, dear's answers cost both."""
    run = table([[1, 0], [0, 1]], [[10, 100], [20, 200]])
    overhead = route_overhead([1.0, 2.0], run.cost_ms, run.names, "cheap")
    assert overhead.tolist() == [[1.0, 11.0], [2.0, 22.0]]
    quality, cost = routed(run, np.array([0, 1]), overhead)
    assert quality.tolist() == [1, 1] and cost.tolist() == [11.0, 222.0]
    assert route_overhead([1.0, 2.0], run.cost_ms, run.names, None).tolist() == [[1.0, 1.0], [2.0, 2.0]]
