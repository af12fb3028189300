"""The built-in example and the probe set are consistent: answers live in the documents they name,
changed facts really changed, the label sets are balanced, and the shipped plans validate."""
from collections import Counter
from pathlib import Path

import pytest

from tunewise.core.data import load_corpus, load_dataset

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples"


def text_of(folder: str, source: str) -> str:
    return (EXAMPLE / folder / source).read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("name", ["qa-train.jsonl", "qa-eval.jsonl"])
def test_every_answer_is_in_its_source_document(name):
    for example in load_dataset(EXAMPLE / name).examples:
        assert example.response.lower() in text_of("docs", example.source), example.id


def test_drift_questions_are_about_facts_that_changed():
    for example in load_dataset(EXAMPLE / "qa-eval-next.jsonl").examples:
        assert example.response.lower() in text_of("docs-v2", example.source), example.id
        old = EXAMPLE / "docs" / example.source
        assert not old.exists() or example.response.lower() not in old.read_text(encoding="utf-8").lower()


def test_eval_questions_are_not_training_questions():
    train = {e.prompt for e in load_dataset(EXAMPLE / "qa-train.jsonl").examples}
    assert not train & {e.prompt for e in load_dataset(EXAMPLE / "qa-eval.jsonl").examples}


def test_corpus_snapshots():
    docs, docs_next = load_corpus(EXAMPLE / "docs"), load_corpus(EXAMPLE / "docs-v2")
    assert len(docs) >= 25
    changed = {d.id for d in docs_next} ^ {d.id for d in docs} | {
        a.id for a, b in zip(docs, docs_next) if a.id == b.id and a.text != b.text}
    assert 3 <= len(changed) <= 10


def test_ticket_sets_are_balanced_and_disjoint():
    train, evaluation = load_dataset(EXAMPLE / "tickets-train.jsonl"), load_dataset(EXAMPLE / "tickets-eval.jsonl")
    assert set(Counter(e.label for e in train.examples).values()) == {15}
    assert set(Counter(e.label for e in evaluation.examples).values()) == {9}
    assert not {e.prompt for e in train.examples} & {e.prompt for e in evaluation.examples}


@pytest.mark.parametrize("name", ["plan-qa.yaml", "plan-tickets.yaml", "plan-support.yaml"])
def test_shipped_plans_validate(name):
    from tunewise.eval.runner import validate

    inputs = validate(EXAMPLE / name)
    assert inputs.evaluation and inputs.names[0] == "zero-shot"


def test_the_support_inbox_is_the_document_questions_and_general_ones_interleaved():
    """support-eval.jsonl: every qa-eval.jsonl question, in order, with a general question or small talk
    after each of the first 16; the general ones name no source document."""
    rows = load_dataset(EXAMPLE / "support-eval.jsonl").examples
    documents = [e for e in rows if e.source]
    assert [e.id for e in documents] == [e.id for e in load_dataset(EXAMPLE / "qa-eval.jsonl").examples]
    general = [e.id for e in rows if not e.source]
    assert len(general) == 16 and [e.id for e in rows[1:32:2]] == general


def test_probe_answers_are_among_their_choices():
    probes = load_dataset(ROOT / "eval" / "probes" / "general.jsonl").examples
    assert len(probes) >= 20
    for probe in probes:
        assert probe.response in probe.meta["choices"] and len(set(probe.meta["choices"])) == 4


@pytest.mark.parametrize("name", ["answers.yaml", "answers-tickets.yaml"])
def test_shipped_answers_are_valid_advisor_answers(name):
    from tunewise.advisor.questions import read_answers_file
    from tunewise.advisor.records import Answers

    assert Answers(**read_answers_file(EXAMPLE / name)).task in ("qa", "classification")


@pytest.mark.parametrize("variable, answers, files", [
    ("DEMO_TICKETS", "answers-tickets.yaml", ["--data", "tickets-train.jsonl", "--eval", "tickets-eval.jsonl"]),
    ("DEMO_QA", "answers.yaml", ["--data", "qa-train.jsonl", "--eval", "qa-eval.jsonl", "--corpus", "docs",
                                 "--corpus-next", "docs-v2", "--eval-next", "qa-eval-next.jsonl"]),
])
def test_make_demo_only_asks_for_approaches_the_advisor_plans(tmp_path, variable, answers, files):
    """`make demo` compares `--only $(DEMO_...)` of the plan `advise` writes: every name must be in it,
    or the README's main command stops half-way."""
    import re

    import yaml

    from tests.fakes import invoke

    wanted = re.search(rf"^{variable} \?= (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split(",")
    args = [a if a.startswith("--") else str(EXAMPLE / a) for a in files]
    result = invoke(["advise", "--answers", str(EXAMPLE / answers), *args, "--plan-out", str(tmp_path / "p.yaml")])
    assert result.exit_code == 0, result.output
    planned = yaml.safe_load((tmp_path / "p.yaml").read_text())["approaches"]
    assert set(wanted) <= set(planned), f"{variable} asks for {sorted(set(wanted) - set(planned))}, not planned"
