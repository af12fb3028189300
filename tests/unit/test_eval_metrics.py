"""Metrics against hand-computed values and against the reference libraries called directly."""
import math

import pytest

from tunewise.eval import metrics


def test_classification_by_hand():
    refs = ["a", "a", "b", "b"]
    preds = ["a", "b", "b", "b"]
    out = metrics.classification_metrics(refs, preds)
    # a: P=1, R=1/2 -> F1=2/3; b: P=2/3, R=1 -> F1=4/5; macro = (2/3 + 4/5) / 2
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["f1_macro"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert metrics.per_class_f1(refs, preds) == pytest.approx({"a": 2 / 3, "b": 0.8})


def test_classification_invented_label_costs_recall_only():
    out = metrics.classification_metrics(["a", "b"], ["a", "zzz"])
    assert out["accuracy"] == 0.5
    assert out["f1_macro"] == pytest.approx(0.5)   # a: F1 1, b: F1 0


def test_qa_exact_match_and_token_f1_by_hand():
    refs = ["Marit Ondersen", "the Skerrow yard", "£7.80"]
    preds = ["marit ondersen.", "Skerrow", "It costs £7.80 single"]
    out = metrics.qa_metrics(refs, preds)
    assert out["exact_match"] == pytest.approx(1 / 3)
    # 1) identical after normalisation -> 1; 2) {skerrow, yard} vs {skerrow}: P=1, R=1/2 -> 2/3;
    # 3) {7, 80} vs {it, costs, 7, 80, single}: P=2/5, R=1 -> 4/7
    assert out["token_f1"] == pytest.approx((1 + 2 / 3 + 4 / 7) / 3)


def test_generation_matches_reference_libraries():
    import sacrebleu
    from rouge_score import rouge_scorer

    refs = ["the ferry leaves at seven in the morning", "refunds take ten working days"]
    preds = ["the ferry leaves at seven", "a refund takes ten days"]
    out = metrics.generation_metrics(refs, preds)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = [scorer.score(r, p) for r, p in zip(refs, preds)]
    assert out["rouge1"] == pytest.approx(sum(s["rouge1"].fmeasure for s in scores) / 2)
    assert out["rouge2"] == pytest.approx(sum(s["rouge2"].fmeasure for s in scores) / 2)
    assert out["rouge_l"] == pytest.approx(sum(s["rougeL"].fmeasure for s in scores) / 2)
    assert out["bleu"] == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score)
    # by hand: first pair ROUGE-1 P=1, R=5/8 -> F=10/13
    assert scores[0]["rouge1"].fmeasure == pytest.approx(10 / 13)


def test_identical_text_scores_perfectly():
    out = metrics.generation_metrics(["same words here"], ["same words here"])
    assert out["rouge1"] == out["rouge2"] == out["rouge_l"] == 1.0


def test_perplexity_by_hand():
    # two references: 3 tokens at log-prob -3 in all, 1 token at -1 -> exp(4 / 4) = e
    assert metrics.perplexity([(-3.0, 3), (-1.0, 1)]) == pytest.approx(math.e)
    assert metrics.perplexity([]) is None


def test_retrieval_by_hand():
    out = metrics.retrieval_metrics(["a.md", "b.md", "c.md"], [["a.md", "x"], ["x", "y", "b.md"], ["x"]])
    assert out["hit_rate"] == pytest.approx(2 / 3)
    assert out["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_task_metrics_omits_what_does_not_fit():
    rows = [{"reference": "a", "prediction": "a"}, {"reference": "b", "prediction": "a"}]
    assert set(metrics.task_metrics("classification", rows)) == {"accuracy", "f1_macro"}
    qa_rows = [
        {"reference": "x", "prediction": "x", "source": "d.md", "retrieved": ["d.md"], "ref_logprob": -2.0, "ref_tokens": 2},
    ]
    out = metrics.task_metrics("qa", qa_rows)
    assert set(out) == {"exact_match", "token_f1", "perplexity", "hit_rate", "mrr"}
    assert out["perplexity"] == pytest.approx(math.e)


def test_empty_or_mismatched_lists_are_refused():
    with pytest.raises(ValueError):
        metrics.qa_metrics(["a"], [])
    with pytest.raises(ValueError):
        metrics.classification_metrics([], [])


def test_lower_is_better_only_for_perplexity():
    assert metrics.is_better("perplexity", 2.0, 3.0)
    assert metrics.is_better("token_f1", 0.5, 0.4)
    assert set(metrics.PRIMARY.values()) <= set(metrics.METRIC_KEYS)
