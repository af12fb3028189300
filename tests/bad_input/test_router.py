"""Bad input to `route train` and `serve --router`: one clear line each, exit non-zero, nothing written."""
import shutil
from pathlib import Path

import pytest

from tests.component.test_router import qa_run  # noqa: F401  (a module fixture: a real tiny run)
from tests.fakes import assert_clean_failure, invoke


def copy_run(qa_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(qa_run / "out", run, ignore=shutil.ignore_patterns("index"))
    return run


def test_a_folder_that_is_not_a_compare_run(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke(["route", "train", str(tmp_path / "empty"), "--out", str(tmp_path / "r.json")])
    assert_clean_failure(result, "not a compare run folder", "tunewise compare")
    assert not (tmp_path / "r.json").exists()


def test_a_run_without_per_example_predictions(qa_run, tmp_path):
    run = copy_run(qa_run, tmp_path)
    (run / "predictions" / "rag.jsonl").unlink()
    result = invoke(["route", "train", str(run), "--out", str(tmp_path / "r.json")])
    assert_clean_failure(result, "predictions/rag.jsonl is missing", "per-example predictions")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("damage, fragment", [
    (lambda lines: ["{not json", *lines[1:]], "rag.jsonl:1: not a prediction row"),
    (lambda lines: [lines[0], lines[1].replace('"latency_ms"', '"latency"'), *lines[2:]],
     "rag.jsonl:2: not a prediction row"),
    (lambda lines: [], "rag.jsonl is empty"),
])
def test_damaged_per_example_predictions(qa_run, tmp_path, damage, fragment):
    run = copy_run(qa_run, tmp_path)
    path = run / "predictions" / "rag.jsonl"
    path.write_text("".join(line + "\n" for line in damage(path.read_text().splitlines())))
    result = invoke(["route", "train", str(run), "--out", str(tmp_path / "r.json")])
    assert_clean_failure(result, fragment)
    assert not (tmp_path / "r.json").exists()


def test_too_few_examples_to_cross_validate(qa_run, tmp_path):
    run = copy_run(qa_run, tmp_path)
    for path in (run / "predictions").glob("*.jsonl"):
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:6]))
    result = invoke(["route", "train", str(run), "--out", str(tmp_path / "r.json")])
    assert_clean_failure(result, "6 eval examples are too few to cross-validate a router", "at least 10")


def test_both_operating_point_options(qa_run, tmp_path):
    result = invoke(["route", "train", str(qa_run / "out"), "--out", str(tmp_path / "r.json"),
                     "--max-cost-per-answer", "100", "--min-quality", "0.5"])
    assert_clean_failure(result, "give one of --max-cost-per-answer, --max-usd-per-answer and --min-quality")


def test_a_money_operating_point_without_prices(qa_run, tmp_path):
    """The tiny run's plan gives no prices: money per answer is unknown, never guessed."""
    result = invoke(["route", "train", str(qa_run / "out"), "--out", str(tmp_path / "r.json"),
                     "--max-usd-per-answer", "0.01"])
    assert_clean_failure(result, "--max-usd-per-answer needs prices", "the plan gives no prices")
    assert not (tmp_path / "r.json").exists()


@pytest.fixture(scope="module")
def trained(qa_run, tmp_path_factory):
    router = tmp_path_factory.mktemp("router") / "router.json"
    result = invoke(["route", "train", str(qa_run / "out"), "--out", str(router)])
    assert result.exit_code == 0, result.output
    return router


def test_an_unreachable_operating_point(qa_run, trained, tmp_path):
    result = invoke(["route", "train", str(qa_run / "out"), "--out", str(tmp_path / "r.json"),
                     "--max-cost-per-answer", "0.001"])
    assert_clean_failure(result, "no operating point costs 0.001 ms per answer or less")
    result = invoke(["route", "train", str(qa_run / "out"), "--out", str(trained)])
    assert_clean_failure(result, "already exists", "--force")


def test_serving_with_another_embedder_is_refused(trained, tmp_path):
    from tests.fakes import build_tiny_embedder
    from tunewise.core.errors import TunewiseError
    from tunewise.eval.route_serve import load_backend
    from tunewise.retrieval.embeddings import Embedder

    other = Embedder(str(build_tiny_embedder(tmp_path / "tiny-embedder")))
    with pytest.raises(TunewiseError) as caught:
        load_backend(trained, embedder=other)
    message = str(caught.value)
    assert "\n" not in message and "minilm" in message.lower() and "tiny-embedder" in message


def test_serving_after_the_index_changed_is_refused(qa_run, trained):
    """`index update` after training changes what the retrieval scores mean: retrain, says serve."""
    updated = invoke(["index", "update", str(qa_run / "docs-v2"), "--index", str(qa_run / "out" / "index")])
    assert updated.exit_code == 0, updated.output
    result = invoke(["serve", "--router", str(trained), "--port", "0"])
    assert_clean_failure(result, "was trained on index", "changed since", "tunewise route train")


def test_serving_a_router_file_of_another_embedder_is_refused(trained, tmp_path):
    """`serve --router` with a router file whose features came from another embedder: one line, exit 1."""
    import json

    data = json.loads(trained.read_text())
    data["versions"]["embedder"] = "another-embedder"
    edited = tmp_path / "router.json"
    edited.write_text(json.dumps(data))
    result = invoke(["serve", "--router", str(edited), "--port", "0"])
    assert_clean_failure(result, "trained with embedder 'another-embedder'", "tunewise route train")


def test_a_plan_routing_over_too_few_examples_is_refused_before_anything_runs(tiny_model, tmp_path):
    import yaml

    examples = Path(__file__).parents[2] / "examples"
    plan = {"task": "classification", "model": str(tiny_model), "train": str(examples / "tickets-train.jsonl"),
            "eval": str(examples / "tickets-eval.jsonl"), "limit_eval": 6, "approaches": ["zero-shot", "head", "router"]}
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    result = invoke(["compare", str(tmp_path / "plan.yaml"), "--out", str(tmp_path / "out")])
    assert_clean_failure(result, "'router' is scored out of fold and needs at least 10 eval examples",
                         "this plan has 6")
    assert not (tmp_path / "out").exists()
