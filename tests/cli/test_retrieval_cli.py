"""`tunewise index`, `ask` and `serve` as a user runs them: tiny real models for mechanics, one slow
end-to-end run on the bundled models and the built-in example."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import build_tiny_embedder, invoke

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory) -> str:
    return str(build_tiny_embedder(tmp_path_factory.mktemp("emb") / "tiny-embedder"))


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "refunds.md").write_text("Refunds are processed within five business days.\n")
    (folder / "tickets.txt").write_text("Ticket priority is high when the payment system is down.\n")
    return folder


def test_build_update_info_and_ask_with_sources(tmp_path, corpus, tiny_embedder, tiny_model):
    index = ["--index", str(tmp_path / "index"), "--embedder", tiny_embedder]
    built = invoke(["index", "build", str(corpus), *index, "--chunk-tokens", "32", "--chunk-overlap", "8", "--json"])
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["added"] == 2
    (corpus / "refunds.md").write_text("Refunds now take ten business days.\n")
    updated = invoke(["index", "update", str(corpus), *index, "--json"])
    counts = json.loads(updated.stdout)
    assert (counts["updated"], counts["unchanged"], counts["added"], counts["deleted"]) == (1, 1, 0, 0)
    info = json.loads(invoke(["index", "info", *index, "--json"]).stdout)
    assert (info["documents"], info["chunk_tokens"], info["embedder"]) == (2, 32, "tiny-embedder")
    asked = invoke(["ask", "Refunds now take ten business days.", *index, "--k", "1", "--model", str(tiny_model),
                    "--max-new-tokens", "4", "--show-context", "--json"])
    assert asked.exit_code == 0, asked.output
    result = json.loads(asked.stdout)
    assert result["sources"] == ["refunds.md"] and result["context"][0]["text"].startswith("Refunds now take ten")
    assert 0 < result["completion_tokens"] <= 4
    plain = invoke(["ask", "refunds", *index, "--k", "1", "--model", str(tiny_model), "--max-new-tokens", "2"])
    assert plain.exit_code == 0 and "Sources: refunds.md" in plain.output


def test_index_eval_reports_hit_rate_and_mrr(tmp_path, corpus, tiny_embedder):
    index = ["--index", str(tmp_path / "index"), "--embedder", tiny_embedder]
    assert invoke(["index", "build", str(corpus), *index]).exit_code == 0
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Refunds are processed within five business days.", "answer": "five",
                              "source": "refunds.md"}) + "\n")
    result = invoke(["index", "eval", str(qa), *index, "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"k": 2, "questions": 1, "hit_rate": 1.0, "mrr": 1.0, "misses": []}


@pytest.mark.slow
def test_example_corpus_end_to_end_on_bundled_models(tmp_path):
    """The issue's "done when": build, ask with sources, change a file, update, get the new fact."""
    import shutil

    docs = shutil.copytree(EXAMPLES / "docs", tmp_path / "docs")
    index = ["--index", str(tmp_path / "index")]
    assert invoke(["index", "build", str(docs), *index]).exit_code == 0
    quality = json.loads(invoke(["index", "eval", str(EXAMPLES / "qa-eval.jsonl"), *index, "--json"]).stdout)
    assert quality["hit_rate"] >= 0.7
    asked = json.loads(invoke(["ask", "How many passengers can the MV Gannet Rose carry?", *index,
                               "--max-new-tokens", "24", "--json"]).stdout)
    assert "fleet-gannet-rose.md" in asked["sources"] and "420" in asked["answer"]
    (docs / "fleet-gannet-rose.md").write_text("# MV Gannet Rose\n\nThe MV Gannet Rose can carry 515 passengers "
                                               "since her 2026 refit.\n")
    counts = json.loads(invoke(["index", "update", str(docs), *index, "--json"]).stdout)
    assert (counts["updated"], counts["chunks_embedded"]) == (1, 1)
    asked = json.loads(invoke(["ask", "How many passengers can the MV Gannet Rose carry?", *index,
                               "--max-new-tokens", "24", "--json"]).stdout)
    assert "515" in asked["answer"]
