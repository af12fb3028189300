"""Routing on real compare runs of the bundled SmolLM2-135M and MiniLM (slow, still run in CI): where it
pays and where it does not, judged out of fold on the measured quality and ms per answer.

Pays: the built-in support inbox (examples/plan-support.yaml), its first 24 questions: 12 about VFC's
documents, which only RAG answers, and 12 general questions or small talk, which few-shot answers
better (in a few words, as its examples do) and at a fifth of RAG's prompt. The retrieval scores and
the question's embedding tell the two kinds apart, so the router beats both approaches' quality at
less than RAG's cost.
Does not pay: ticket routing (examples/plan-tickets.yaml, 20 messages), where the classifier head is
both the best and the cheapest approach.
"""
import pytest
import yaml

from tests.component.test_eval_runner import EXAMPLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def support_router(tmp_path_factory):
    from tunewise.eval.router import train_router
    from tunewise.eval.runner import run_compare

    root = tmp_path_factory.mktemp("support")
    plan = yaml.safe_load((EXAMPLE / "plan-support.yaml").read_text())
    plan.update(train=str(EXAMPLE / plan["train"]), eval=str(EXAMPLE / plan["eval"]),
                corpus=str(EXAMPLE / plan["corpus"]), limit_eval=24, approaches=["few-shot", "rag"], safety=False)
    (root / "plan.yaml").write_text(yaml.safe_dump(plan))
    run_compare(root / "plan.yaml", root / "out", max_new_tokens=16)
    return train_router(root / "out")


def test_routing_pays_on_the_support_inbox(support_router):
    router = support_router
    few, rag = (next(p for p in router.singles if p.name == name) for name in ("few-shot", "rag"))
    assert rag.cost_ms > 2 * few.cost_ms                # RAG's prompt is about five times few-shot's
    best = max(few, rag, key=lambda p: p.quality)
    assert router.oracle.quality > best.quality + 0.05  # each approach wins on its own kind of question
    chosen = router.operating_point
    assert router.pays and chosen.name == "router" and router.verdict.startswith("Routing pays on these 24")
    # out of fold: better than either approach alone, for less than RAG costs
    assert chosen.quality > best.quality + 0.005 and chosen.cost_ms < rag.cost_ms
    assert 0.2 < chosen.shares["few-shot"] < 0.8


def test_the_router_sends_general_questions_to_few_shot_and_document_questions_to_rag(support_router):
    from tunewise.eval.router import score_router_out_of_fold

    rows = score_router_out_of_fold(support_router.run_dir, support_router)
    general = [r["route"] for r in rows if r["id"].startswith("general-")]
    documents = [r["route"] for r in rows if not r["id"].startswith("general-")]
    assert len(general) == len(documents) == 12
    # most general questions go to few-shot, most document questions to RAG (at the operating point a
    # document question goes to few-shot where the router expects little from RAG for its price)
    assert general.count("few-shot") >= 9 and documents.count("rag") >= 7


def test_routing_does_not_pay_where_the_head_is_best_and_cheapest(tmp_path):
    from tunewise.eval.router import train_router
    from tunewise.eval.runner import run_compare

    plan = yaml.safe_load((EXAMPLE / "plan-tickets.yaml").read_text())
    plan.update(train=str(EXAMPLE / plan["train"]), eval=str(EXAMPLE / plan["eval"]), limit_eval=20,
                approaches=["zero-shot", "head"], safety=False)
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    run_compare(tmp_path / "plan.yaml", tmp_path / "out", max_new_tokens=8)
    router = train_router(tmp_path / "out")
    head = next(p for p in router.singles if p.name == "head")
    assert all(head.quality >= p.quality and head.cost_ms <= p.cost_ms for p in router.singles)
    assert not router.pays and "head" in router.verdict and "both the best and the cheapest" in router.verdict
    assert router.operating_point == head
