"""The verdict's statistics match scipy and statsmodels called directly on the same fixed inputs."""
import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar

from tunewise.core.errors import ConfigError
from tunewise.eval.stats import (
    RESAMPLES, example_scores, macro_f1_batch, mcnemar_exact, paired_bootstrap, verdict,
)

LABELS = ["billing", "lost", "refund"]


def rows_from(references, predictions):
    return [{"id": f"e{i}", "reference": r, "prediction": p} for i, (r, p) in enumerate(zip(references, predictions))]


def test_macro_f1_batch_equals_scikit_learn_on_resamples():
    rng = np.random.default_rng(3)
    refs = rng.integers(0, 4, size=40)
    preds = np.where(rng.random(40) < 0.6, refs, rng.integers(-1, 4, size=40))
    idx = rng.integers(0, 40, size=(25, 40))
    ours = macro_f1_batch(refs[idx], preds[idx], 4)
    for row, value in zip(idx, ours):
        labels = sorted(set(refs[row]))
        assert value == pytest.approx(f1_score(refs[row], preds[row], labels=labels, average="macro", zero_division=0))


def test_paired_bootstrap_is_scipy_bootstrap_over_paired_examples():
    a = np.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.6, 0.2, 0.4, 1.0])
    b = np.array([0.8, 0.3, 0.5, 0.4, 0.1, 0.9, 0.2, 0.2, 0.1, 0.7])
    low, high, se = paired_bootstrap(lambda i, axis=-1: (a[i] - b[i]).mean(axis=-1), len(a), seed=7)
    reference = stats.bootstrap((a, b), lambda x, y, axis=-1: (x - y).mean(axis=axis), paired=True, vectorized=True,
                                n_resamples=RESAMPLES, method="BCa", random_state=np.random.default_rng(7))
    assert (low, high) == pytest.approx(tuple(reference.confidence_interval), abs=1e-12)
    assert se == pytest.approx(reference.standard_error)
    assert low < (a - b).mean() < high


def test_mcnemar_exact_matches_statsmodels_and_the_binomial():
    a = [True] * 20 + [True] * 6 + [False] * 1 + [False] * 3
    b = [True] * 20 + [False] * 6 + [True] * 1 + [False] * 3
    p = mcnemar_exact(a, b)
    assert p == pytest.approx(mcnemar([[20, 6], [1, 3]], exact=True).pvalue)
    assert p == pytest.approx(2 * stats.binom.cdf(1, 7, 0.5))      # exact: discordant pairs 6 vs 1


def test_example_scores_mean_is_the_reported_metric():
    from tunewise.eval.metrics import task_metrics

    rows = rows_from(["the blue rucksack", "Hennow pier", "ten euros"], ["a blue bag", "Hennow", "ten"])
    assert np.mean(example_scores("qa", rows)) == pytest.approx(task_metrics("qa", rows)["token_f1"])
    assert np.mean(example_scores("generation", rows)) == pytest.approx(task_metrics("generation", rows)["rouge_l"])


def classification_case():
    refs = [LABELS[i % 3] for i in range(30)]
    wrong = lambda r: LABELS[(LABELS.index(r) + 1) % 3]  # noqa: E731
    best = [r if i % 10 else wrong(r) for i, r in enumerate(refs)]           # 27 / 30
    close = [r if i % 10 not in (0, 5) else wrong(r) for i, r in enumerate(refs)]  # 24 / 30
    poor = [r if i % 3 == 0 else wrong(r) for i, r in enumerate(refs)]        # 10 / 30
    rows = {"lora": rows_from(refs, best), "head": rows_from(refs, close), "zero-shot": rows_from(refs, poor)}
    costs = {"lora": {"latency_ms_p50": 500.0, "train_seconds": 100.0},
             "head": {"latency_ms_p50": 50.0, "train_seconds": 10.0},
             "zero-shot": {"latency_ms_p50": 500.0, "train_seconds": 0.0}}
    return refs, rows, costs


def test_a_cheaper_tie_wins_and_the_sentence_carries_the_numbers():
    refs, rows, costs = classification_case()
    v = verdict("classification", rows, costs)
    assert v.best == "lora" and v.winner == "head" and v.ties == ["head"]
    by_name = {d.approach: d for d in v.differences}
    expected = (f1_score(refs, [r["prediction"] for r in rows["head"]], average="macro")
                - f1_score(refs, [r["prediction"] for r in rows["lora"]], average="macro"))
    assert by_name["head"].difference == pytest.approx(expected, abs=1e-4)
    assert by_name["head"].ci_low < 0 <= by_name["head"].ci_high
    assert not by_name["zero-shot"].tie and by_name["zero-shot"].ci_high < 0
    assert by_name["zero-shot"].mcnemar_p < 0.01 and by_name["head"].mcnemar_p == pytest.approx(2 * 0.5 ** 3)  # 3 discordant, all one way
    assert v.extra_examples_to_settle is not None and v.extra_examples_to_settle > 30
    assert "head wins as the cheapest" in v.sentence and f"{v.extra_examples_to_settle:,} more eval examples" in v.sentence
    assert 0 < v.min_detectable_difference < 1


def test_a_clear_winner_and_seeded_reproducibility():
    refs, rows, costs = classification_case()
    rows.pop("head")
    first, again = verdict("classification", rows, costs), verdict("classification", rows, costs)
    assert first == again
    assert first.winner == "lora" and first.ties == [] and "lora wins" in first.sentence


def test_predictions_of_different_examples_are_refused():
    _, rows, costs = classification_case()
    rows["head"] = rows["head"][1:]
    with pytest.raises(ConfigError, match="same eval examples"):
        verdict("classification", rows, costs)
