"""Adding an approach is one module plus one `register` call: a toy approach declared here, and nowhere
else, goes through advise -> plan -> compare -> report like a built-in one."""
import json
from collections import Counter
from pathlib import Path

import pytest

from tunewise.core import registry
from tunewise.core.registry import ApproachSpec
from tunewise.eval.systems import Prediction
from tunewise.eval.workspace import Built

EXAMPLE = Path(__file__).parents[2] / "examples"

SPEC = ApproachSpec(name="majority", kind="in-context", needs=frozenset({"labels"}), prior=50.0,
                    tasks=("classification",), tasks_note="it only repeats the commonest label",
                    summary="majority answers every message with the commonest training label.")


class MajoritySystem:
    def __init__(self, label: str):
        self.label = label

    def predict(self, examples):
        return [Prediction(self.label, 0.01, 0) for _ in examples]

    def reference_logprobs(self, examples):
        return None


def build(ws):
    label, _ = Counter(e.response for e in ws.train.examples).most_common(1)[0]
    return Built(MajoritySystem(label), notes=["a toy approach registered by a test"])


@pytest.fixture
def toy():
    registry.register(SPEC, build)
    yield SPEC
    registry.unregister(SPEC.name)


def test_toy_approach_runs_through_advise_plan_compare_report(toy, tiny_model, tmp_path):
    from tunewise.advisor.plan import AdviceRequest, advise, build_plan, write_plan
    from tunewise.advisor.records import Answers
    from tunewise.eval.runner import run_compare

    request = AdviceRequest(Answers(task="classification", model_params_b=0.135, ram_gb=16.0),
                            data=EXAMPLE / "tickets-train.jsonl", eval=EXAMPLE / "tickets-eval.jsonl",
                            model=str(tiny_model))
    rec = advise(request)
    assert rec.recommendation == "majority"                 # its prior puts it first
    ranked = next(r for r in rec.ranking if r.approach == "majority")
    assert ranked.reasons[0].startswith("majority answers") and ranked.estimates["prompt_tokens_per_query"] > 0
    plan_path = tmp_path / "plan.yaml"
    plan = build_plan(rec, request, plan_path)
    assert plan.approaches[:2] == ["zero-shot", "majority"]
    write_plan(plan.model_copy(update={"limit_eval": 6}), plan_path)
    results = run_compare(plan_path, tmp_path / "out", only=["zero-shot", "majority"], max_new_tokens=2)
    majority = results.approaches["majority"]
    labels = lambda name: [json.loads(line)["label"] for line in (EXAMPLE / name).read_text().splitlines()]  # noqa: E731
    commonest = Counter(labels("tickets-train.jsonl")).most_common(1)[0][0]
    eval_labels = labels("tickets-eval.jsonl")[:6]
    assert majority.metrics["accuracy"] == pytest.approx(sum(l == commonest for l in eval_labels) / 6, abs=1e-4)
    assert results.recommendation == "majority" or results.advisor["recommendation"] == "majority"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| majority" in report and "a toy approach registered by a test" in report


def test_toy_task_limit_blocks_it_for_other_tasks(toy):
    from tunewise.advisor.records import Answers
    from tunewise.advisor.rules import recommend

    rec = recommend(Answers(task="qa", model_params_b=0.135, labelled_examples=50))
    ranked = next(r for r in rec.ranking if r.approach == "majority")
    assert not ranked.feasible and any("only repeats the commonest label" in r for r in ranked.reasons)
