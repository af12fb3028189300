"""The cheap approach's confidence as a router feature, and the router's frontier in the compare report.

The compare folder is written by hand, so which answers are right is known: zero-shot (10 s an answer) is
right exactly on the questions it is sure of, few-shot (100 s) on all of them, and the questions are the
same words but for a number, so only the confidence can tell them apart. The answers are slow so that the
features' measured time (milliseconds, more on a busy machine) cannot change the outcome. The features are a real (tiny)
sentence-transformers embedder's, the router real scikit-learn, the report the one compare writes.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import build_tiny_embedder, write_jsonl

N = 40
COST = {"zero-shot": 10_000.0, "few-shot": 100_000.0}


def hand_made_run(folder: Path, confidences: bool = True, prices: dict | None = None) -> Path:
    from tunewise.core.results import ApproachResult
    from tunewise.core.schema import Plan

    sure = np.random.default_rng(0).permutation([True] * (N // 2) + [False] * (N // 2))
    plan = Plan(task="classification", train=folder / "train.jsonl", eval=folder / "eval.jsonl",
                approaches=list(COST), prices=prices or {})
    (folder / "approaches").mkdir(parents=True)
    (folder / "compare.json").write_text(json.dumps({"plan": plan.model_dump(mode="json"), "max_new_tokens": 8}))
    for name, cost in COST.items():
        rows = []
        for i, certain in enumerate(sure):
            right = certain or name == "few-shot"
            row = {"id": f"e{i}", "input": f"ticket {i}: my card was charged twice", "reference": "billing",
                   "prediction": "billing" if right else "delivery", "latency_ms": cost, "prompt_tokens": 20}
            if confidences:
                row["confidence"] = round((0.9 if certain else 0.4) + 0.05 * np.sin(i), 6)
            rows.append(row)
        write_jsonl(folder / "predictions" / f"{name}.jsonl", rows)
        accuracy = float(np.mean([r["prediction"] == r["reference"] for r in rows]))
        ApproachResult(metrics={"accuracy": accuracy, "f1_macro": accuracy},
                       costs={"train_seconds": 0.0, "latency_ms_p50": cost, "latency_ms_p95": cost,
                              "peak_memory_mb": 100.0, "storage_mb": 0.0}, examples=N, device="cpu").save(
            folder / "approaches" / f"{name}.json")
    return folder


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    from tunewise.eval.route_features import FeatureExtractor
    from tunewise.retrieval.embeddings import Embedder

    path = build_tiny_embedder(tmp_path_factory.mktemp("embedder") / "tiny-embedder")
    return FeatureExtractor(Embedder(str(path)))


def test_the_cheap_approachs_confidence_makes_routing_pay(tmp_path, extractor):
    """With zero-shot's confidence the router sends the sure half to zero-shot and the rest to few-shot,
    paying zero-shot's answer on those too (it was asked first): few-shot's quality at about 60 s instead
    of 100, out of fold."""
    from tunewise.eval.route_run import load_run
    from tunewise.eval.router import train_router

    router = train_router(hand_made_run(tmp_path / "run"), extractor=extractor)
    assert router.confidence_route == "zero-shot" and router.features[-1] == "confidence[zero-shot]"
    assert router.pays and router.verdict.startswith("Routing pays on these 40 examples")
    best = max(router.frontier, key=lambda p: (p.quality, -p.cost_ms))
    assert best.quality == 1.0 and best.shares == {"zero-shot": 0.5, "few-shot": 0.5}
    feature_ms = np.mean(router.overhead_ms)
    cheap, dear = COST.values()
    assert best.cost_ms == pytest.approx(0.5 * cheap + 0.5 * (dear + cheap) + feature_ms, abs=0.02)
    assert router.operating_point.quality == 1.0 and router.operating_point.cost_ms < 0.7 * COST["few-shot"]
    # out of fold: the stored predictions come from models that never saw the example they score
    run = load_run(tmp_path / "run")
    assert np.array(router.oof_quality).shape == run.quality.shape


def test_without_confidences_the_same_run_does_not_pay(tmp_path, extractor):
    """A run written before confidences were recorded still reads; its questions alone say nothing about
    which approach is right, so no router point comes near few-shot's quality at the cost the confidence
    allowed."""
    from tunewise.eval.router import train_router

    router = train_router(hand_made_run(tmp_path / "run", confidences=False), extractor=extractor)
    assert router.confidence_route is None and not any(f.startswith("confidence") for f in router.features)
    assert not any(p.quality >= 0.95 and p.cost_ms < 0.7 * COST["few-shot"] for p in router.frontier)


def test_money_per_answer_from_the_plans_cpu_price(tmp_path, extractor):
    """At $3.60 per CPU hour a millisecond costs $0.000001: zero-shot's 10 s answer $0.01, few-shot's
    100 s $0.10, and the router that asks zero-shot first and sends half on to few-shot
    0.5 x 0.01 + 0.5 x (0.01 + 0.10) = $0.06 plus its features' time at the same price."""
    from tunewise.core.errors import TunewiseError
    from tunewise.eval.router import train_router

    run = hand_made_run(tmp_path / "run", prices={"cpu_hour_usd": 3.6})
    router = train_router(run, extractor=extractor)
    assert [(p.name, p.usd) for p in router.singles] == [("zero-shot", 0.01), ("few-shot", 0.1)]
    assert router.money == ("Money per answer from the plan's prices: zero-shot at $3.6 per cpu hour; few-shot at "
                            "$3.6 per cpu hour; the router's features at $3.6 per cpu hour")
    best = max(router.frontier, key=lambda p: (p.quality, -p.usd))
    assert best.quality == 1.0
    assert best.usd == pytest.approx(0.06 + np.mean(router.overhead_ms) * 1e-6, rel=1e-3)
    assert best.usd == pytest.approx(best.cost_ms * 1e-6, rel=1e-3)     # one device: money is time
    within = train_router(run, extractor=extractor, max_usd=0.05).operating_point
    assert within.usd <= 0.05 and within.quality == max(p.quality for p in router.frontier if p.usd <= 0.05)
    assert within.quality > router.singles[0].quality        # some questions sent on to few-shot
    assert train_router(run, extractor=extractor, max_usd=0.07).operating_point.quality == 1.0
    with pytest.raises(TunewiseError, match=r"no operating point costs \$0.005 per answer or less; the cheapest costs \$0.01"):
        train_router(run, extractor=extractor, max_usd=0.005)


def test_without_prices_money_is_unknown_and_no_usd_operating_point(tmp_path, extractor):
    from tunewise.core.errors import TunewiseError
    from tunewise.eval.router import train_router

    run = hand_made_run(tmp_path / "run")
    router = train_router(run, extractor=extractor)
    assert router.money.startswith("Money per answer is unknown: the plan gives no prices")
    assert all(p.usd is None for p in [*router.singles, router.oracle, *router.frontier])
    with pytest.raises(TunewiseError, match="--max-usd-per-answer needs prices: money per answer is unknown"):
        train_router(run, extractor=extractor, max_usd=0.05)


def test_the_report_shows_the_frontier_only_when_the_run_has_a_router(tmp_path, extractor):
    from tunewise.core.results import ApproachResult
    from tunewise.core.schema import Plan
    from tunewise.eval.report import assemble_results, fmt, write_report
    from tunewise.eval.route_report import FRONTIER_PLOT, frontier_rows, keep_in_run
    from tunewise.eval.router import train_router

    run = hand_made_run(tmp_path / "run")
    plan = Plan.model_validate(json.loads((run / "compare.json").read_text())["plan"])
    write_report(run, assemble_results(plan, {n: ApproachResult.load(run / "approaches" / f"{n}.json")
                                              for n in COST}))
    plain_md, plain_html = (run / "report.md").read_text(), (run / "report.html").read_text()
    assert "Routing per question" not in plain_md + plain_html and FRONTIER_PLOT not in plain_md + plain_html
    assert not (run / "plots" / f"{FRONTIER_PLOT}.png").exists()

    router = train_router(run, extractor=extractor)
    assert keep_in_run(router, report=True) == run / "report.html"
    md, page = (run / "report.md").read_text(), (run / "report.html").read_text()
    assert "## Routing per question" in md and "<h2>Routing per question</h2>" in page
    assert router.verdict in md and "confidence[zero-shot]" in md
    header, rows = frontier_rows(router)
    assert "| " + " | ".join(header) + " |" in md
    for row in rows:       # every single approach, the oracle and each router point, with its numbers
        assert "| " + " | ".join(fmt(v) for v in row) + " |" in md
    assert [r[0].rstrip(" *") for r in rows[:3]] == ["zero-shot", "few-shot", "oracle"]
    assert rows[2][1:3] == [1.0, pytest.approx(0.5 * COST["zero-shot"] + 0.5 * COST["few-shot"])]
    image = (run / "plots" / f"{FRONTIER_PLOT}.png").read_bytes()
    assert image.startswith(b"\x89PNG") and f"![{FRONTIER_PLOT}](plots/{FRONTIER_PLOT}.png)" in md
    assert f"<img alt='{FRONTIER_PLOT}' src='data:image/png;base64," in page
