"""Advisor records round-trip to JSON; questions parse what they print; plans validate as `Plan`."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tunewise.advisor.assess import profile_dataset
from tunewise.advisor.plan import AdviceRequest, advise, build_plan, plan_approaches, write_plan
from tunewise.advisor.questions import BY_KEY, QUESTIONS, parse_answers, read_answers_file
from tunewise.advisor.records import Answers, DataProfile, Recommendation
from tunewise.advisor.rules import recommend
from tunewise.core.errors import ConfigError, OutputExistsError
from tunewise.core.schema import ApiModel, Plan
from tests.fakes import write_jsonl


def test_recommendation_round_trips(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": f"t {i}", "label": "ab"[i % 2]} for i in range(6)])
    rec = recommend(Answers(task="classification", labelled_examples=600), profile_dataset(data, fast=True))
    again = Recommendation.from_json(rec.to_json())
    assert again == rec
    assert set(rec.model_dump()) == {"recommendation", "ranking", "profile"}
    assert set(rec.model_dump()["ranking"][0]) == {"approach", "feasible", "score", "reasons", "estimates"}


def test_answers_and_profile_round_trip():
    answers = Answers(task="qa", long_tail=True, budget_usd=50.0)
    assert Answers.from_json(answers.to_json()) == answers
    with pytest.raises(ValueError):
        Answers(tasks="qa")
    with pytest.raises(ValueError):
        DataProfile.model_validate({"path": "x"})


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.key)
def test_every_question_parses_its_own_default(question):
    default = Answers().model_dump()[question.key]
    assert question.parse(question.show(default)) == default


@pytest.mark.parametrize("key, raw, message", [
    ("task", "poetry", "choose one of"), ("labelled_examples", "12.5", "whole number"),
    ("labelled_examples", "-3", "greater than or equal to 0"), ("long_tail", "maybe", "yes or no"),
    ("budget_usd", "lots", "a number (or none)"), ("gpu_memory_gb", "none", "expected a number"),
])
def test_questions_reject_bad_answers_with_a_reason(key, raw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BY_KEY[key].parse(raw)


def test_answers_file_rejects_unknown_keys_by_name(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("task: qa\nlabeled_examples: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key 'labeled_examples'"):
        read_answers_file(path)
    assert parse_answers({"long_tail": True, "budget_usd": None}, "x") == {"long_tail": True, "budget_usd": None}


@pytest.fixture
def qa_files(tmp_path):
    rows = [{"question": f"What is fact {i}?", "answer": f"{i}"} for i in range(150)]
    train = write_jsonl(tmp_path / "data" / "train.jsonl", rows)
    evaluation = write_jsonl(tmp_path / "data" / "eval.jsonl", [{"question": "What is fact x?", "answer": "x"}])
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text("Fact 1 is 1.", encoding="utf-8")
    return train, evaluation, corpus


def test_plan_validates_and_paths_resolve_from_the_plan_folder(qa_files, tmp_path):
    train, evaluation, corpus = qa_files
    request = AdviceRequest(Answers(task="qa", knowledge_changes="weekly"), train, evaluation, corpus)
    rec = advise(request)
    plan_path = tmp_path / "plans" / "plan.yaml"
    write_plan(build_plan(rec, request, plan_path), plan_path)
    text = plan_path.read_text(encoding="utf-8")
    plan = Plan.model_validate(yaml.safe_load(text))
    assert plan.train == Path("../data/train.jsonl") and plan.task == "qa"
    resolved = plan.resolve_paths(plan_path.parent)
    assert resolved.train == train.resolve() and resolved.corpus == corpus.resolve()
    assert plan.approaches[0] == "zero-shot" and rec.recommendation in plan.approaches
    assert plan.recommendation == rec.recommendation and plan.reasons
    with pytest.raises(OutputExistsError):
        write_plan(plan, plan_path)
    assert plan_path.read_text(encoding="utf-8") == text


def test_plan_carries_the_drift_snapshot(qa_files, tmp_path):
    train, evaluation, corpus = qa_files
    request = AdviceRequest(Answers(task="qa"), train, evaluation, corpus, corpus_next=tmp_path / "docs-v2",
                            eval_next=tmp_path / "next.jsonl")
    plan = build_plan(advise(request), request, tmp_path / "plan.yaml")
    assert (plan.corpus_next, plan.eval_next) == (Path("docs-v2"), Path("next.jsonl"))
    lone = AdviceRequest(Answers(task="qa"), train, evaluation, corpus, corpus_next=tmp_path / "docs-v2")
    with pytest.raises(ConfigError, match="--corpus-next and --eval-next go together"):
        build_plan(advise(lone), lone, tmp_path / "plan.yaml")


def test_plan_task_mapping_and_head_for_classification(tmp_path):
    rows = [{"text": f"message {i}", "label": "abc"[i % 3]} for i in range(900)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    request = AdviceRequest(Answers(task="classification"), train, train)
    rec = advise(request)
    plan = build_plan(rec, request, tmp_path / "plan.yaml")
    assert plan.task == "classification" and "head" in plan.approaches and "zero-shot" in plan.approaches
    style = AdviceRequest(Answers(task="style", labelled_examples=500), train, train)
    assert build_plan(advise(style), style, tmp_path / "p.yaml").task == "generation"


def test_api_model_plans_only_in_context_approaches():
    rec = recommend(Answers(model_access="api-finetune", labelled_examples=500, corpus_documents=10))
    approaches, notes = plan_approaches(rec, has_corpus=True, is_api=True)
    assert set(approaches) <= {"zero-shot", "few-shot", "few-shot-opt", "rag"} and "zero-shot" in approaches
    assert any("provider" in n for n in notes)


def test_api_model_goes_to_the_plans_api_model(qa_files, tmp_path):
    train, evaluation, _ = qa_files
    api = ApiModel(base_url="http://127.0.0.1:9/v1", model="served")
    request = AdviceRequest(Answers(model_access="api-only", labelled_examples=20), train, evaluation, model=api)
    plan = build_plan(advise(request), request, tmp_path / "plan.yaml")
    assert plan.api_model == api and plan.model == "smollm2-135m-instruct"
    assert set(plan.approaches) <= {"zero-shot", "few-shot", "few-shot-opt", "rag"}


def test_plan_needs_train_and_eval(tmp_path):
    request = AdviceRequest(Answers())
    with pytest.raises(ConfigError, match="--plan-out needs --data"):
        build_plan(advise(request), request, tmp_path / "plan.yaml")


def test_the_questionnaires_one_token_price_prices_prompt_and_output_tokens(qa_files, tmp_path):
    """It asks one API price per million tokens (its estimates use it for both): the plan prices both, so
    compare and route train can price an API answer's completion too."""
    train, evaluation, corpus = qa_files
    request = AdviceRequest(Answers(task="qa", model_access="api-only", token_usd_per_1m=0.5, gpu_hour_usd=2.0),
                            train, evaluation, corpus)
    prices = build_plan(advise(request), request, tmp_path / "plan.yaml").prices
    assert (prices.input_token_usd_per_1m, prices.output_token_usd_per_1m, prices.gpu_hour_usd) == (0.5, 0.5, 2.0)
