"""Routing per question on real compare runs of the tiny llama (and real MiniLM features): out-of-fold
scores, the frontier, both verdicts, and `serve --router` answering the official openai client."""
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import write_jsonl

EXAMPLE = Path(__file__).parents[2] / "examples"
API_KEY_ENV = "TUNEWISE_TEST_ROUTER_KEY"
DOCS = ("fares.md", "refunds.md", "lost-property.md")


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _serve_in_thread(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def _stop(server) -> None:
    server.shutdown()
    server.server_close()


class ApiBackend:
    """`tunewise serve` of the tiny llama in its own process: the run's API model, a backend we can kill."""

    def __init__(self, model: Path):
        import os
        import socket
        import subprocess
        import sys
        import time

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
        self.process = subprocess.Popen([sys.executable, "-m", "tunewise.cli.main", "serve", "--model", str(model),
                                         "--port", str(self.port)], env=env)
        deadline = time.monotonic() + 120
        while socket.socket().connect_ex(("127.0.0.1", self.port)) != 0:
            assert self.process.poll() is None and time.monotonic() < deadline, "the API backend did not start"
            time.sleep(0.2)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def api_server(tiny_model):
    backend = ApiBackend(tiny_model)
    yield backend
    backend.kill()


@pytest.fixture(scope="module")
def cls_run(tiny_model, api_server, tmp_path_factory):
    """Ticket routing on 20 eval messages: local zero-shot, few-shot and head, and the same prompts on the
    API model (api-zero-shot, api-few-shot)."""
    import os

    import yaml

    from tunewise.eval.runner import run_compare

    root = tmp_path_factory.mktemp("route-cls")
    tickets = read_rows(EXAMPLE / "tickets-train.jsonl")
    write_jsonl(root / "train.jsonl", tickets[:30])
    write_jsonl(root / "eval.jsonl", tickets[30:50])
    plan = {"task": "classification", "model": str(tiny_model), "train": "train.jsonl", "eval": "eval.jsonl",
            "approaches": ["zero-shot", "few-shot", "head"], "tuning": {"max_steps": 4, "batch_size": 4},
            "api_model": {"base_url": api_server.url, "model": "tiny", "api_key_env": API_KEY_ENV,
                          "max_retries": 0, "timeout_s": 10}}
    (root / "plan.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    os.environ[API_KEY_ENV] = "not-a-secret"
    run_compare(root / "plan.yaml", root / "out", max_new_tokens=8)
    return root / "out"


@pytest.fixture(scope="module")
def qa_run(tiny_model, tmp_path_factory):
    """A real compare run of the tiny llama: zero-shot and RAG over three documents, 12 questions."""
    import shutil

    import yaml

    from tunewise.eval.runner import run_compare

    root = tmp_path_factory.mktemp("route-qa")
    for folder in ("docs", "docs-v2"):
        (root / folder).mkdir()
        for name in DOCS:
            shutil.copy(EXAMPLE / folder / name, root / folder / name)
    write_jsonl(root / "train.jsonl", [json.loads(l) for l in (EXAMPLE / "qa-train.jsonl").read_text().splitlines()])
    write_jsonl(root / "eval.jsonl", [json.loads(l) for l in (EXAMPLE / "qa-eval.jsonl").read_text().splitlines()][:12])
    plan = {"task": "qa", "model": str(tiny_model), "train": "train.jsonl", "eval": "eval.jsonl", "corpus": "docs",
            "approaches": ["zero-shot", "rag"]}
    (root / "plan.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    run_compare(root / "plan.yaml", root / "out", max_new_tokens=4)
    return root


def test_routing_does_not_pay_when_one_approach_dominates(qa_run):
    """The tiny random model answers no question right either way, so the cheaper approach is as good
    as the other everywhere: route train must say so and send everything to it."""
    from tunewise.eval.router import train_router

    router = train_router(qa_run / "out")
    assert [p.quality for p in router.singles] == [0.0, 0.0]
    cheaper = min(router.singles, key=lambda p: p.cost_ms)     # which one is measured, not assumed
    assert not router.pays and router.verdict.startswith("Routing does not pay on these 12 examples")
    assert f"send everything to {cheaper.name}" in router.verdict
    assert router.operating_point == cheaper


@pytest.fixture(scope="module")
def cls_router(cls_run):
    from tunewise.eval.router import train_router

    return train_router(cls_run)


def test_singles_and_router_points_are_recomputable_from_predictions(cls_run, cls_router):
    from tunewise.eval.router import score_router_out_of_fold

    router = cls_router
    print(router.verdict, [(p.name, p.quality, p.cost_ms) for p in router.singles], router.oracle)
    assert router.routes[0] != router.routes[-1] and len(router.routes) == 5
    for single in router.singles:
        rows = read_rows(cls_run / "predictions" / f"{single.name}.jsonl")
        reported = json.loads((cls_run / "approaches" / f"{single.name}.json").read_text())["metrics"]["accuracy"]
        assert single.quality == pytest.approx(reported, abs=1e-4)
        assert single.cost_ms == pytest.approx(np.mean([r["latency_ms"] for r in rows]), abs=0.01)
    rows = score_router_out_of_fold(cls_run, router)
    chosen = router.operating_point
    assert len(rows) == 20 and {r["route"] for r in rows} <= set(router.routes)
    assert np.mean([r["prediction"] == r["reference"] for r in rows]) == pytest.approx(chosen.quality, abs=1e-4)
    for row in rows:
        source = {r["id"]: r for r in read_rows(cls_run / "predictions" / f"{row['route']}.jsonl")}[row["id"]]
        assert row["prediction"] == source["prediction"] and row["latency_ms"] >= source["latency_ms"]
    assert router.oracle.quality >= max(p.quality for p in [*router.singles, *router.frontier])


def test_predictions_record_what_money_needs(cls_run):
    """An API answer's prompt and completion tokens (its price), each approach's device (its hour price);
    label scoring generates nothing, so its rows have no completion tokens."""
    for name in ("api-zero-shot", "api-few-shot"):
        rows = read_rows(cls_run / "predictions" / f"{name}.jsonl")
        assert all(isinstance(r["prompt_tokens"], int) and isinstance(r["completion_tokens"], int) for r in rows)
    assert all("completion_tokens" not in r for r in read_rows(cls_run / "predictions" / "head.jsonl"))
    for path in (cls_run / "approaches").glob("*.json"):
        assert json.loads(path.read_text())["device"] in ("cpu", "cuda")


def test_router_is_scored_out_of_fold(cls_run, cls_router):
    """Refit on each training fold and predict its held-out fold: exactly the stored predictions, which
    differ from what the model fitted on every example says about those same examples."""
    from sklearn.model_selection import KFold

    from tunewise.eval.route_features import run_extractor
    from tunewise.eval.route_run import load_run
    from tunewise.eval.router import _quality_model, predicted_quality

    run = load_run(cls_run)
    extractor = run_extractor(cls_run, "minilm-l6")
    x = np.array([extractor.features(r["input"])[0] for r in run.rows[run.names[0]]])
    # the last feature: the confidence the cheapest label-scoring approach recorded in compare
    x = np.column_stack([x, [r["confidence"] for r in run.rows[cls_router.confidence_route]]])
    expected = np.zeros_like(run.quality)
    for train, held_out in KFold(cls_router.folds, shuffle=True, random_state=0).split(x):
        expected[held_out] = _quality_model().fit(x[train], run.quality[train]).predict(x[held_out])
    assert np.allclose(cls_router.oof_quality, expected, atol=1e-5)
    in_sample = predicted_quality(cls_router.model, x)
    assert np.allclose(in_sample, _quality_model().fit(x, run.quality).predict(x), atol=1e-6)
    assert not np.allclose(in_sample, expected, atol=1e-3)


def test_label_scoring_records_its_confidence_and_the_router_uses_the_cheapest(cls_run, cls_router):
    """Local zero-shot and few-shot score the labels and the head classifies, so each row holds the chosen
    label's probability over the label set; the API model records none. The cheapest of them is asked first."""
    from tunewise.eval.route_run import load_run

    labels = {r["label"] for r in read_rows(EXAMPLE / "tickets-train.jsonl")[:30]}     # the run's train set
    for name in cls_router.routes:
        confidences = [r.get("confidence") for r in read_rows(cls_run / "predictions" / f"{name}.jsonl")]
        if name in ("zero-shot", "few-shot", "head"):
            assert all(1 / len(labels) - 1e-6 <= c <= 1 for c in confidences), (name, confidences)
        else:
            assert confidences == [None] * 20, name
    run = load_run(cls_run)
    scoring = [n for n in run.names if n in ("zero-shot", "few-shot", "head")]
    assert cls_router.confidence_route == scoring[0]
    assert cls_router.features[-1] == f"confidence[{scoring[0]}]" and cls_router.features[0] == "embedding[384]"


def test_frontier_table_and_plot(cls_router, tmp_path):
    from tunewise.eval.route_report import frontier_plot, frontier_rows

    header, rows = frontier_rows(cls_router)
    assert header[:3] == ["point", "accuracy", "ms per answer"]
    assert [r[0].rstrip(" *") for r in rows][:6] == [*cls_router.routes, "oracle"]
    assert sum(r[0].endswith(" *") for r in rows) >= 1
    png = frontier_plot(cls_router, tmp_path / "frontier.png")
    assert png.startswith(b"\x89PNG") and (tmp_path / "frontier.png").read_bytes() == png


def test_route_train_puts_the_frontier_into_the_runs_report(cls_run, tmp_path):
    """A finished run without a router has no routing section; `route train` adds it, with the plot."""
    import shutil

    from tests.fakes import invoke
    from tunewise.eval.report import fmt
    from tunewise.eval.route_report import FRONTIER_PLOT, frontier_rows
    from tunewise.eval.router import RouterFile

    run = tmp_path / "run"
    shutil.copytree(cls_run, run)
    assert "Routing per question" not in (run / "report.md").read_text()
    result = invoke(["route", "train", str(run), "--out", str(tmp_path / "router.json")])
    assert result.exit_code == 0, result.output
    assert f"Report with the frontier: {run / 'report.html'}" in result.output.replace("\n", "")
    router = RouterFile.load(tmp_path / "router.json")
    md, page = (run / "report.md").read_text(), (run / "report.html").read_text()
    assert "## Routing per question" in md and "<h2>Routing per question</h2>" in page
    for row in frontier_rows(router)[1]:
        assert "| " + " | ".join(fmt(v) for v in row) + " |" in md
    assert (run / "plots" / f"{FRONTIER_PLOT}.png").is_file() and f"alt='{FRONTIER_PLOT}'" in page


@pytest.fixture
def served(cls_router, tmp_path):
    """Start `serve --router` on a router file at the given operating point; stop it afterwards."""
    from tunewise.eval.route_serve import start_router_server

    servers, logs = [], []

    def start(point):
        path = tmp_path / f"router-{len(servers)}.json"
        cls_router.model_copy(update={"operating_point": point}).save(path)
        servers.append(_serve_in_thread(start_router_server(path, port=0, log=logs.append)))
        return servers[-1]

    yield start, logs
    for server in servers:
        _stop(server)


def _ask(server, text: str):
    from openai import OpenAI

    reply = OpenAI(base_url=server.url, api_key="unused", max_retries=0).chat.completions.create(
        model="tunewise-router", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content, reply.model_extra["tunewise"]


def test_requests_land_on_different_routes(cls_run, cls_router, served):
    """A mixed operating point: each question goes where the stored model sends it, and gets the answer
    that route gave in the compare run."""
    start, logs = served
    mixed = [p for p in cls_router.frontier if sum(share > 0 for share in p.shares.values()) >= 2]
    server = start(mixed[0])
    answers = {name: {r["input"]: r["prediction"] for r in read_rows(cls_run / "predictions" / f"{name}.jsonl")}
               for name in cls_router.routes}
    routes = []
    for question in list(answers[cls_router.routes[0]])[:12]:
        text, meta = _ask(server, question)
        routes.append(meta["route"])
        assert text == answers[meta["route"]][question] and "fallback_from" not in meta
    assert len(set(routes)) >= 2, routes
    assert sum(line.startswith("route ") for line in logs) == 12


def test_a_killed_backend_falls_back_to_the_most_robust_route(cls_router, served, api_server):
    start, logs = served
    api = next(p for p in cls_router.singles if p.name.startswith("api-"))
    server = start(api)               # every request goes to the API model ...
    assert _ask(server, "Where is my bag?")[1] == {"route": api.name}
    api_server.kill()                 # ... until it dies (kill -9)
    text, meta = _ask(server, "Where is my bag?")
    assert meta == {"route": "zero-shot", "fallback_from": api.name} and text
    assert any(f"route {api.name} failed" in line and "falling back to zero-shot" in line for line in logs)


def test_router_as_an_approach_of_compare_is_scored_out_of_fold(tiny_model, tmp_path):
    """`router` listed last in a plan: its rows are the out-of-fold routed answers, in the same table."""
    import yaml

    from tunewise.eval.router import score_router_out_of_fold
    from tunewise.eval.runner import run_compare

    examples = Path(__file__).parents[2] / "examples"
    plan = {"task": "classification", "model": str(tiny_model), "train": str(examples / "tickets-train.jsonl"),
            "eval": str(examples / "tickets-eval.jsonl"), "limit_eval": 12,
            "approaches": ["zero-shot", "head", "router"], "tuning": {"max_steps": 2, "batch_size": 2}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    results = run_compare(path, tmp_path / "out", max_new_tokens=2)
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions" / "router.jsonl").read_text().splitlines()]
    routed = {r["id"]: r for r in score_router_out_of_fold(tmp_path / "out")}
    assert [r["prediction"] for r in rows] == [routed[r["id"]]["prediction"] for r in rows]
    accuracy = sum(r["prediction"] == r["reference"] for r in rows) / len(rows)
    assert results.approaches["router"].metrics["accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert results.verdict and any(d["approach"] == "router" for d in results.verdict["differences"])
    # the router it trained is kept in the run, and the report shows its frontier against each approach
    from tunewise.eval.route_report import FRONTIER_PLOT, ROUTER_IN_RUN
    from tunewise.eval.router import RouterFile

    kept = RouterFile.load(tmp_path / "out" / ROUTER_IN_RUN)
    assert kept.routes == sorted(kept.routes, key=lambda n: kept.route_cost_ms[kept.routes.index(n)])
    assert set(kept.routes) == {"zero-shot", "head"} and kept.examples == 12
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Routing per question" in md and kept.verdict in md
    assert all(f"| {p.name} | " in md or f"| {p.name} * |" in md for p in kept.singles)
    assert (tmp_path / "out" / "plots" / f"{FRONTIER_PLOT}.png").read_bytes().startswith(b"\x89PNG")


def test_router_must_come_last_in_a_plan(tiny_model, tmp_path):
    from tunewise.core.errors import ConfigError
    from tunewise.eval.runner import validate

    examples = Path(__file__).parents[2] / "examples"
    path = tmp_path / "plan.yaml"
    path.write_text(json.dumps({"task": "classification", "model": str(tiny_model),
                                "train": str(examples / "tickets-train.jsonl"),
                                "eval": str(examples / "tickets-eval.jsonl"), "approaches": ["router", "zero-shot"]}))
    with pytest.raises(ConfigError, match="list it last"):
        validate(path)
