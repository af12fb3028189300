"""Every rule of advisor/rules.py on both sides of its edge, as a table."""
from __future__ import annotations

import pytest

from tunewise.advisor.records import Answers, Recommendation
from tunewise.advisor.rules import recommend
from tunewise.core import registry
from tunewise.advisor.estimate import DPO_STEP_RATIO

SMALL = dict(model_params_b=0.135, ram_gb=16.0)


def run(**answers) -> Recommendation:
    return recommend(Answers(**{**SMALL, **answers}), model="smollm2-135m-instruct")


def entry(rec: Recommendation, approach: str):
    return next(r for r in rec.ranking if r.approach == approach)


# (answers, approach, feasible, a fragment of the reason that decides it)
FEASIBILITY = [
    (dict(model_access="api-only", labelled_examples=500), "lora", False, "api-only"),
    (dict(model_access="api-only", labelled_examples=500), "few-shot", True, "few-shot shows"),
    (dict(model_access="api-finetune", labelled_examples=500), "lora", True, "provider's fine-tuning API"),
    (dict(model_access="api-finetune", labelled_examples=500), "full", False, "no local weights"),
    (dict(model_access="open-weights", labelled_examples=500), "lora", True, "enough to fine-tune"),
    (dict(model_access="api-only", data_may_leave=False, labelled_examples=5), "few-shot", False,
     "data_may_leave is no"),
    (dict(model_access="open-weights", data_may_leave=False, labelled_examples=5), "few-shot", True,
     "5 labelled examples are enough to pick good demonstrations"),
    (dict(labelled_examples=0), "few-shot", False, "labelled_examples is 0"),
    (dict(labelled_examples=1), "few-shot", True, "1 labelled examples"),
    (dict(corpus_documents=0), "rag", False, "corpus_documents is 0"),
    (dict(corpus_documents=1), "rag", True, "retrieved from the corpus"),
    (dict(task="style", labelled_examples=500), "head", False, "only predicts labels"),
    (dict(task="classification", labelled_examples=500), "head", True, "classifier head"),
    (dict(labelled_examples=500, gpu_memory_gb=0), "qlora", False, "need a CUDA GPU"),
    (dict(labelled_examples=500, gpu_memory_gb=24), "qlora", True, "enough to fine-tune"),
    (dict(labelled_examples=500, model_params_b=7, gpu_memory_gb=24), "full", False, "more than the 24 GB"),
    (dict(labelled_examples=500, model_params_b=7, gpu_memory_gb=80), "full", True, "needs about 10000 or more"),
    (dict(labelled_examples=200_000, model_params_b=1.7, ram_gb=64), "lora", False, "hours on this CPU"),
    (dict(labelled_examples=2000, model_params_b=1.7, ram_gb=64), "lora", True, "2000 labelled examples are enough"),
    (dict(labelled_examples=20000, model_params_b=7, gpu_memory_gb=80, gpu_hour_usd=2.0, budget_usd=0.1),
     "full", False, "over budget_usd"),
    (dict(labelled_examples=20000, model_params_b=7, gpu_memory_gb=80, gpu_hour_usd=2.0, budget_usd=1000.0),
     "full", True, "can pay for full fine-tuning"),
]


@pytest.mark.parametrize("answers, approach, feasible, reason", FEASIBILITY)
def test_feasibility_rules(answers, approach, feasible, reason):
    assert reason, "an empty fragment would match any reason"
    ranked = entry(run(**answers), approach)
    assert ranked.feasible is feasible, ranked.reasons
    assert any(reason in r for r in ranked.reasons), ranked.reasons


# (answers, the recommendation)
RECOMMENDATIONS = [
    (dict(), "zero-shot"),                                                          # nothing labelled
    (dict(task="generation", labelled_examples=99), "few-shot"),                    # too few to tune
    (dict(task="generation", labelled_examples=100), "lora"),                       # just enough
    (dict(task="style", labelled_examples=50), "few-shot"),
    (dict(task="style", labelled_examples=500), "lora"),                            # behaviour -> tuning
    (dict(model_access="api-only", task="style", labelled_examples=5000), "few-shot"),  # and it says so
    (dict(task="qa", labelled_examples=40, corpus_documents=30, knowledge_changes="daily"), "rag"),
    (dict(task="generation", labelled_examples=40, corpus_documents=30, long_tail=True), "rag"),
    (dict(task="qa", labelled_examples=400, corpus_documents=30, knowledge_changes="weekly"), "rag+lora"),
    (dict(task="classification", labelled_examples=5000), "lora"),
    (dict(task="style", labelled_examples=5000, model_params_b=7, gpu_memory_gb=24), "qlora"),  # LoRA won't fit
    (dict(task="style", labelled_examples=5000, model_params_b=7, gpu_memory_gb=80), "lora"),
]


@pytest.mark.parametrize("answers, expected", RECOMMENDATIONS)
def test_recommendation(answers, expected):
    rec = run(**answers)
    assert rec.recommendation == expected, [(r.approach, r.feasible, r.score) for r in rec.ranking]
    assert entry(rec, expected).feasible


@pytest.mark.parametrize("answers, approach, better_with, worse_with", [
    # knowledge that changes monthly or faster tips towards retrieval; yearly only a little
    (dict(corpus_documents=10), "rag", dict(knowledge_changes="monthly"), dict(knowledge_changes="yearly")),
    (dict(corpus_documents=10), "rag", dict(knowledge_changes="yearly"), dict(knowledge_changes="never")),
    (dict(corpus_documents=10), "rag", dict(long_tail=True), dict(long_tail=False)),
    (dict(task="classification"), "head", dict(labelled_examples=500), dict(labelled_examples=499)),
    (dict(task="generation"), "full", dict(labelled_examples=10000), dict(labelled_examples=9999)),
    (dict(task="generation"), "lora", dict(labelled_examples=1000), dict(labelled_examples=999)),
    (dict(labelled_examples=5), "few-shot", dict(model_params_b=30, ram_gb=512), dict(model_params_b=29, ram_gb=512)),
    (dict(labelled_examples=500), "lora", dict(latency_ms=5000), dict(latency_ms=100)),
    # a classification decodes nothing: 500 ms holds its prompted model, not the same model writing answers
    (dict(labelled_examples=50, latency_ms=500), "zero-shot", dict(task="classification"), dict(task="generation")),
    (dict(labelled_examples=5, model_access="api-only", token_usd_per_1m=10.0), "few-shot",
     dict(cost_per_query_usd=1.0), dict(cost_per_query_usd=0.0001)),
])
def test_score_edges(answers, approach, better_with, worse_with):
    better = entry(run(**answers, **better_with), approach)
    worse = entry(run(**answers, **worse_with), approach)
    assert better.score > worse.score, (better.reasons, worse.reasons)


def test_api_only_says_why_tuning_is_out():
    rec = run(model_access="api-only", task="style", labelled_examples=5000)
    for approach in ("lora", "qlora", "full", "prompt-tuning", "head", "rag+lora"):
        ranked = entry(rec, approach)
        assert not ranked.feasible
        assert any("cannot be fine-tuned locally" in r for r in ranked.reasons)


def test_memory_that_does_not_fit_falls_back_to_the_cheaper_method():
    rec = run(task="style", labelled_examples=5000, model_params_b=7, gpu_memory_gb=24)
    assert not entry(rec, "lora").feasible
    assert any("lora does not fit" in r and "qlora's 4-bit base weights do" in r for r in entry(rec, "qlora").reasons)


def test_nothing_feasible_is_noted():
    rec = run(model_access="api-only", data_may_leave=False, labelled_examples=5)
    assert not any(r.feasible for r in rec.ranking)
    assert any("No approach is feasible" in n for n in rec.profile.notes)


def test_ranking_lists_every_approach_once_feasible_first():
    rec = run(task="style", labelled_examples=500)
    names = [r.approach for r in rec.ranking]
    assert sorted(names) == sorted(set(names)) and len(names) == len(registry.names())
    flags = [r.feasible for r in rec.ranking]
    assert flags == sorted(flags, reverse=True)
    assert all(r.reasons for r in rec.ranking if not r.feasible)


@pytest.mark.parametrize("answers, approach, feasible, reason", [
    ({"task": "style", "labelled_examples": 300, "preference_pairs": 200}, "dpo", True, "200 preference pairs"),
    ({"task": "style", "labelled_examples": 300, "preference_pairs": 0}, "dpo", False, "preference_pairs is 0"),
    ({"task": "style", "labelled_examples": 300, "preference_pairs": 20}, "dpo", True, "too few to move"),
    ({"task": "style", "preference_pairs": 200, "model_access": "api-only"}, "dpo", False, "cannot be fine-tuned locally"),
    ({"task": "qa", "labelled_examples": 10}, "few-shot-opt", False, "to carve a dev split"),
    ({"task": "qa", "labelled_examples": 60}, "few-shot-opt", True, "leave a dev split"),
])
def test_dpo_and_few_shot_opt_rules(answers, approach, feasible, reason):
    ranked = next(r for r in run(**answers).ranking if r.approach == approach)
    assert ranked.feasible is feasible
    assert any(reason in text for text in ranked.reasons), ranked.reasons


def test_style_task_with_preference_pairs_recommends_dpo():
    rec = run(task="style", labelled_examples=300, preference_pairs=200)
    assert rec.recommendation == "dpo"
    dpo, lora = (next(r for r in rec.ranking if r.approach == a) for a in ("dpo", "lora"))
    assert dpo.estimates["train_hours"] == pytest.approx(DPO_STEP_RATIO * lora.estimates["train_hours"], rel=0.01)
