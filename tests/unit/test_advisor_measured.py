"""Without a pilot, a similar measured comparison in the ledger leads over the rules' priors."""
from tunewise.advisor.measured import lean_on_ledger
from tunewise.advisor.records import Answers
from tunewise.advisor.rules import recommend
from tunewise.core.ledger import Ledger, MeasuredRun

MODEL = "smollm2-135m-instruct"


def measured(approach, value, examples=75, source="/runs/a", model=MODEL):
    return MeasuredRun(kind="compare", approach=approach, task="classification", examples=examples, model=model,
                       metric="f1_macro", metric_value=value, source=source)


def test_a_similar_comparison_picks_its_best_feasible_approach():
    answers = Answers(task="classification", labelled_examples=80)
    rec = recommend(answers, model=MODEL)
    assert rec.recommendation != "head"                       # the rules alone pick something else
    Ledger().append_runs([measured("zero-shot", 0.25), measured("few-shot", 0.89), measured("head", 0.96)])
    leaned = lean_on_ledger(rec, MODEL)
    assert leaned.recommendation == "head"
    assert "head f1_macro 0.960" in leaned.profile.notes[-1] and "few-shot 0.890" in leaned.profile.notes[-1]


def test_dissimilar_runs_leave_the_rules_in_charge():
    answers = Answers(task="classification", labelled_examples=80)
    rec = recommend(answers, model=MODEL)
    Ledger().append_runs([measured("zero-shot", 0.2, examples=5000), measured("head", 0.99, examples=5000),
                          measured("zero-shot", 0.2, model="other"), measured("head", 0.99, model="other")])
    assert lean_on_ledger(rec, MODEL) == rec
