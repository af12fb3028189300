"""A reduced plan of the built-in example on the bundled SmolLM2 and MiniLM (slow, still run in CI)."""
import pytest
import yaml

from tests.component.test_eval_runner import EXAMPLE


@pytest.mark.slow
def test_rag_beats_zero_shot_on_the_document_questions(tmp_path):
    from tunewise.eval.runner import run_compare

    plan = {"task": "qa", "train": str(EXAMPLE / "qa-train.jsonl"), "eval": str(EXAMPLE / "qa-eval.jsonl"),
            "corpus": str(EXAMPLE / "docs"), "approaches": ["zero-shot", "rag"], "limit_eval": 8}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    results = run_compare(path, tmp_path / "out", max_new_tokens=16)
    rag, zero = results.approaches["rag"].metrics, results.approaches["zero-shot"].metrics
    assert rag["hit_rate"] >= 0.75                  # MiniLM finds the right document for most questions
    assert rag["token_f1"] > zero["token_f1"]       # facts no model can know come from the documents
    assert rag["perplexity"] < zero["perplexity"]   # the reference answers become far more likely
    assert results.winner == "rag"
