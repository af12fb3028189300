"""The data profile flags what was built into the data: duplicates, imbalance, leakage, volatility."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tunewise.advisor.assess import near_records, profile_corpus, profile_dataset
from tests.fakes import write_jsonl

TOPICS = ["billing", "shipping", "account", "refund", "password", "invoice", "delivery", "login", "upgrade",
          "cancel", "warranty", "discount"]


def classification_rows() -> list[dict]:
    rows = [{"text": f"My {t} question number {i} about order {1000 + i}", "label": "billing"}
            for i, t in enumerate(TOPICS * 3)]
    rows += [{"text": "The parcel never arrived at my house", "label": "shipping"},
             {"text": "Where is my parcel? It has not arrived", "label": "shipping"}]
    rows.append(dict(rows[0]))                                                   # exact duplicate
    rows.append({"text": rows[1]["text"].upper() + "!", "label": "billing"})     # same after normalising
    rows.append({"text": rows[2]["text"] + ".", "label": "shipping"})            # near and conflicting
    return rows


@pytest.fixture
def built(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", classification_rows())
    evaluation = write_jsonl(tmp_path / "eval.jsonl", [
        {"text": classification_rows()[3]["text"], "label": "billing"},           # leaked exactly
        {"text": classification_rows()[4]["text"] + " please", "label": "billing"},  # leaked nearly
        {"text": "A brand new question about something else entirely", "label": "shipping"},
    ])
    return train, evaluation


def test_flags_duplicates_imbalance_and_leakage(built):
    train, evaluation = built
    profile = profile_dataset(train, evaluation, fast=True)
    assert profile.examples == 41 and profile.format == "classification"
    assert profile.exact_duplicates == 2
    assert profile.near_duplicates >= 1
    assert profile.conflicting_labels == 1
    assert profile.label_counts == {"billing": 38, "shipping": 3}
    assert profile.imbalance_ratio == pytest.approx(38 / 3, rel=0.01)
    assert (profile.leaked_exact, profile.leaked_near) == (1, 1)
    text = " ".join(profile.warnings)
    assert "exact and" in text and "imbalanced" in text and "Leakage" in text
    assert profile.tokens.method.startswith("estimate")


def test_clean_data_has_no_warnings(tmp_path):
    rows = [{"prompt": f"Write a haiku about {t}", "completion": f"A short poem on {t}, in three lines"}
            for t in TOPICS]
    profile = profile_dataset(write_jsonl(tmp_path / "d.jsonl", rows), fast=True)
    assert profile.warnings == [] and profile.label_counts is None


def test_empty_too_long_and_dated_records(tmp_path):
    rows = [{"prompt": "Price list", "completion": "v2.1 prices from 2024-01-15", "valid_from": "2024-01-15"},
            {"prompt": "Price list", "completion": "v2.3 prices from 2024-07-01"},
            {"prompt": "Summarise", "completion": " "},
            {"prompt": "word " * 400, "completion": "long"}]
    profile = profile_dataset(write_jsonl(tmp_path / "d.jsonl", rows), fast=True, max_seq_len=256)
    assert profile.empty_records == 1 and profile.too_long_records == 1
    assert profile.dated_records == 2 and profile.date_span_days == 168 and profile.versions_seen == 2


def test_tokens_counted_with_the_models_tokenizer(tiny_model, tmp_path):
    rows = [{"text": "hello world this is a tiny tokenizer for tests", "label": "a"},
            {"text": "Refunds are processed within five business days.", "label": "b"}]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    exact = profile_dataset(path, model=str(tiny_model))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    expected = [len(tokenizer(f"{r['text']}\n{r['label']}", add_special_tokens=False)["input_ids"]) for r in rows]
    assert exact.tokens.method == f"tokenizer:{tiny_model}"
    assert exact.tokens.total == sum(expected) and exact.tokens.max == max(expected)


def test_missing_tokenizer_falls_back_to_a_labelled_estimate(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "abcdefgh", "label": "x"}])
    profile = profile_dataset(path, model=str(tmp_path / "no-such-model"))
    assert "estimate" in profile.tokens.method and profile.tokens.total == 3  # "abcdefgh\nx" = 10 chars


def test_corpus_snapshots_report_the_changed_share(tmp_path):
    old, new = tmp_path / "v1", tmp_path / "v2"
    for folder in (old, new):
        folder.mkdir()
    for i in range(8):
        (old / f"d{i}.md").write_text(f"Document {i} says the fare is {i} pounds.", encoding="utf-8")
        (new / f"d{i}.md").write_text(f"Document {i} says the fare is {i + (i < 2)} pounds.", encoding="utf-8")
    (new / "d8.md").write_text("A new timetable.", encoding="utf-8")
    (new / "empty.md").write_text("", encoding="utf-8")
    profile = profile_corpus(new, previous=old, fast=True)
    assert (profile.added, profile.removed, profile.changed) == (2, 0, 2)
    assert profile.changed_share == pytest.approx(0.4)
    assert profile.empty_documents == 1 and profile.chunks_estimate == 9
    assert any("volatile" in w for w in profile.warnings)


def test_corpus_tokens_are_not_truncated_by_the_embedder_tokenizer(tmp_path):
    (tmp_path / "long.md").write_text("ferry timetable " * 300, encoding="utf-8")
    profile = profile_corpus(tmp_path)
    assert profile.tokens.method == "tokenizer:minilm-l6" and profile.tokens.max > 500
    assert profile.chunks_estimate >= 3


def test_near_records_ignores_unrelated_text():
    assert near_records(["the cat sat on the mat", "quarterly revenue grew by nine percent"]) == set()
    assert near_records(["the cat sat on the mat", "the cat sat on the mat!"]) == {1}
    assert near_records(["the cat sat on the mat", "the cat sat on the mat"]) == set()  # exact, not near
    assert near_records(["a dog barked twice", "the cat sat on the mat!"], ["the cat sat on the mat"]) == {1}


def test_near_records_of_templated_data_keep_memory_bounded():
    """Every record near every other: the pairs would be 12.5 million; the answer is all but the first."""
    import tracemalloc

    texts = [f"ticket {i}: the payment page fails with code {i % 97} after the card is entered" for i in range(5000)]
    tracemalloc.start()
    found = near_records(texts)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found == set(range(1, 5000))
    assert peak < 300 * 2**20


@pytest.mark.parametrize("how", ["fast=True", "model=TINY"])
def test_assessment_imports_no_torch(built, tiny_model, how):
    """Both the chars/4 path and a model folder's tokenizer.json count without torch."""
    train, evaluation = built
    code = (f"import sys\nfrom tunewise.advisor.assess import profile_dataset\nTINY = {str(tiny_model)!r}\n"
            f"p = profile_dataset({str(train)!r}, {str(evaluation)!r}, {how})\n"
            "print(p.tokens.method.split()[0].split(':')[0], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == "False" and out.stdout.split()[0] in ("estimate", "tokenizer")
