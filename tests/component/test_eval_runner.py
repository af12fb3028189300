"""The comparison runner end to end on the tiny llama, a three-document corpus and real Chroma."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.fakes import write_jsonl

EXAMPLE = Path(__file__).parents[2] / "examples"
DOCS = ("fares.md", "refunds.md", "lost-property.md")


def write_plan(root: Path, model: Path, task: str = "qa", approaches=None, **extra) -> Path:
    """A small plan over the built-in example's data: 4 eval examples, 2 tuning steps."""
    for folder, source in (("docs", "docs"), ("docs-v2", "docs-v2")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in DOCS:
            (root / folder / name).write_text((EXAMPLE / source / name).read_text(), encoding="utf-8")
    qa = [json.loads(line) for line in (EXAMPLE / "qa-eval.jsonl").read_text().splitlines()]
    qa = [r for r in qa if r["source"] in DOCS]
    nxt = [json.loads(line) for line in (EXAMPLE / "qa-eval-next.jsonl").read_text().splitlines()]
    tickets = [json.loads(line) for line in (EXAMPLE / "tickets-train.jsonl").read_text().splitlines()]
    write_jsonl(root / "qa-train.jsonl", qa[4:])
    write_jsonl(root / "qa-eval.jsonl", qa[:4])
    write_jsonl(root / "qa-next.jsonl", [r for r in nxt if r["source"] in DOCS][:3])
    write_jsonl(root / "cls-train.jsonl", tickets[:10])
    write_jsonl(root / "cls-eval.jsonl", tickets[10:15])
    plan = {"task": task, "model": str(model), "tuning": {"max_steps": 2, "batch_size": 2}}
    if task == "qa":
        plan.update(train="qa-train.jsonl", eval="qa-eval.jsonl", corpus="docs", corpus_next="docs-v2",
                    eval_next="qa-next.jsonl", approaches=approaches or ["zero-shot", "rag", "lora"])
    else:
        plan.update(train="cls-train.jsonl", eval="cls-eval.jsonl",
                    approaches=approaches or ["zero-shot", "few-shot", "lora", "head"])
    plan.update(extra)
    path = root / f"plan-{task}.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def qa_run(tiny_model, tmp_path_factory):
    from tunewise.eval.runner import run_compare

    root = tmp_path_factory.mktemp("qa")
    stages = []
    results = run_compare(write_plan(root, tiny_model, recommendation="rag"), root / "out", max_new_tokens=6,
                          progress=lambda stage, done, total: stages.append((stage, done, total)))
    return root / "out", results, stages


def test_every_approach_answers_the_same_examples(qa_run):
    out, results, _ = qa_run
    assert list(results.approaches) == ["zero-shot", "rag", "lora"]
    ids = {name: [r["id"] for r in read_rows(out / "predictions" / f"{name}.jsonl")] for name in results.approaches}
    assert len({tuple(v) for v in ids.values()}) == 1 and len(ids["rag"]) == 4
    for name, record in results.approaches.items():
        assert set(record.metrics) >= {"exact_match", "token_f1", "perplexity"}
        assert set(record.costs) >= {"train_seconds", "peak_memory_mb", "latency_ms_p50", "latency_ms_p95",
                                        "prompt_tokens", "storage_mb"}
    assert {"hit_rate", "mrr"} <= set(results.approaches["rag"].metrics)
    assert "hit_rate" not in results.approaches["zero-shot"].metrics      # omitted, not zero
    assert results.approaches["lora"].costs["train_seconds"] > 0
    assert results.approaches["lora"].losses


def test_outputs_and_report(qa_run):
    out, results, stages = qa_run
    assert json.loads((out / "results.json").read_text()) == results.model_dump(mode="json")
    assert results.winner in results.approaches and results.recommendation == "rag"
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "src='http" not in html
    assert "| zero-shot" in (out / "report.md").read_text()
    assert {s for s, _, _ in stages} >= {"zero-shot: predict", "lora: train", "rag: predict"}


def test_forgetting_and_drift(qa_run):
    out, results, _ = qa_run
    forgetting = results.approaches["lora"].forgetting
    assert 0 <= forgetting["probe_accuracy_after"] <= 1 and forgetting["probe_perplexity_before"] > 1
    drift = results.approaches["rag"].drift
    assert drift.catch_up.seconds >= 0 and "re-index" in drift.catch_up.how
    # docs-v2 changed the fares and refunds documents (and lost-property): only those are re-embedded
    assert "3 changed documents" in drift.catch_up.how
    assert len(read_rows(out / "predictions" / "drift" / "rag.jsonl")) == 3
    assert results.approaches["lora"].drift.catch_up.seconds == \
        results.approaches["lora"].costs["train_seconds"]


def test_every_number_is_recomputable_from_predictions(qa_run):
    """The reference libraries, called here directly on predictions/*.jsonl, give the reported values."""
    from rouge_score import rouge_scorer
    from sklearn.metrics import accuracy_score

    from tunewise.eval.metrics import SquadTokenizer, normalize_answer

    out, results, _ = qa_run
    scorer = rouge_scorer.RougeScorer(["rouge1"], tokenizer=SquadTokenizer())
    for name, record in results.approaches.items():
        rows = read_rows(out / "predictions" / f"{name}.jsonl")
        refs, preds = [r["reference"] for r in rows], [r["prediction"] for r in rows]
        m, c = record.metrics, record.costs
        assert m["exact_match"] == pytest.approx(accuracy_score([normalize_answer(x) for x in refs],
                                                                [normalize_answer(x) for x in preds]))
        assert m["token_f1"] == pytest.approx(np.mean([scorer.score(r, p)["rouge1"].fmeasure for r, p in zip(refs, preds)]))
        assert m["perplexity"] == pytest.approx(np.exp(-sum(r["ref_logprob"] for r in rows) / sum(r["ref_tokens"] for r in rows)), rel=1e-5)
        assert c["latency_ms_p50"] == pytest.approx(np.percentile([r["latency_ms"] for r in rows], 50), abs=0.01)
        assert c["latency_ms_p95"] == pytest.approx(np.percentile([r["latency_ms"] for r in rows], 95), abs=0.01)
        assert c["prompt_tokens"] == pytest.approx(np.mean([r["prompt_tokens"] for r in rows]), abs=0.1)
        if "hit_rate" in m:
            assert m["hit_rate"] == pytest.approx(np.mean([r["source"] in r["retrieved"] for r in rows]))


def test_classification_scores_labels_by_likelihood(tiny_model, tmp_path):
    from sklearn.metrics import accuracy_score, f1_score

    from tunewise.eval.runner import run_compare

    approaches = ["zero-shot", "few-shot", "lora", "full", "head"]
    results = run_compare(write_plan(tmp_path, tiny_model, task="classification", approaches=approaches),
                          tmp_path / "out")
    assert list(results.approaches) == approaches
    labels = set(json.loads(line)["label"] for line in (tmp_path / "cls-train.jsonl").read_text().splitlines())
    for name, record in results.approaches.items():
        rows = read_rows(tmp_path / "out" / "predictions" / f"{name}.jsonl")
        refs, preds = [r["reference"] for r in rows], [r["prediction"] for r in rows]
        assert set(preds) <= labels          # a label is picked, never free text
        assert record.metrics["accuracy"] == pytest.approx(accuracy_score(refs, preds))
        assert record.metrics["f1_macro"] == pytest.approx(
            f1_score(refs, preds, labels=sorted(set(refs)), average="macro", zero_division=0))
        assert set(record.per_class_f1) == set(refs)
    assert "perplexity" not in results.approaches["head"].metrics
    assert results.approaches["full"].forgetting and results.approaches["head"].forgetting is None
    assert results.approaches["full"].costs["storage_mb"] > results.approaches["lora"].costs["storage_mb"]
    assert (tmp_path / "out" / "plots" / "per_class_f1.png").is_file()


def test_resume_skips_finished_approaches(tiny_model, tmp_path):
    from tunewise.eval.runner import run_compare

    plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "head"])
    out = tmp_path / "out"
    run_compare(plan, out)
    kept = (out / "approaches" / "zero-shot.json").stat().st_mtime_ns
    (out / "approaches" / "head.json").unlink()
    (out / "results.json").unlink()          # as if killed before the end
    stages = []
    results = run_compare(plan, out, progress=lambda s, d, t: stages.append(s))
    assert (out / "approaches" / "zero-shot.json").stat().st_mtime_ns == kept
    assert "zero-shot: predict" not in stages and "head: predict" in stages
    assert set(results.approaches) == {"zero-shot", "head"}


def test_resume_after_kill_9(tiny_model, tmp_path):
    """A real SIGKILL mid-run: the rerun keeps the finished approach and completes the rest."""
    plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "few-shot", "head"])
    out = tmp_path / "out"
    code = f"from tunewise.eval.runner import run_compare; run_compare({str(plan)!r}, {str(out)!r})"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    first = out / "approaches" / "zero-shot.json"
    deadline = time.monotonic() + 120
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists() and not (out / "results.json").exists()
    kept = first.stat().st_mtime_ns
    from tunewise.eval.runner import run_compare

    results = run_compare(plan, out)
    assert first.stat().st_mtime_ns == kept
    assert set(results.approaches) == {"zero-shot", "few-shot", "head"}
    assert not list(out.rglob("*.tmp"))


def test_prompt_tuning_scores_align_with_the_models_own_loss(tiny_model, tmp_path):
    """Prompt tuning's virtual tokens must not shift label scores: compare with PEFT's own loss."""
    import torch

    from tunewise.core.data import load_dataset
    from tunewise.core.registry import builder
    from tunewise.eval.runner import load_plan
    from tunewise.eval.workspace import Workspace

    plan = load_plan(write_plan(tmp_path, tiny_model, task="classification", approaches=["prompt-tuning"]))
    ws = Workspace(plan, load_dataset(plan.train), None, tmp_path / "out")
    generator = builder("prompt-tuning")(ws).tuned_generator
    conversation = [{"role": "user", "content": "Where is my bag?"}]
    (logprob, n), = generator.loglikelihood(conversation, ["lost-property"])
    prompt = generator.tokenizer(generator.render(conversation), add_special_tokens=False)["input_ids"]
    full = generator.tokenizer.apply_chat_template(conversation + [{"role": "assistant", "content": "lost-property"}],
                                                   tokenize=False)
    ids = generator.tokenizer(full, add_special_tokens=False)["input_ids"]
    labels = [-100] * len(prompt) + ids[len(prompt):]
    with torch.inference_mode():
        loss = generator.model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
    assert n == len(ids) - len(prompt)
    assert logprob == pytest.approx(-float(loss) * n, rel=1e-4)


def test_api_model_runs_the_prompt_only_approaches_and_the_key_stays_out_of_files(tiny_model, tmp_path, monkeypatch):
    """A real OpenAI-compatible endpoint on loopback (`tunewise serve`'s server over the tiny model)."""
    from tests.fakes import loopback_api
    from tunewise.eval.runner import run_compare

    with loopback_api(tiny_model, "sk-test-secret-123", monkeypatch) as api:
        plan = write_plan(tmp_path, tiny_model, task="classification", approaches=["zero-shot", "head"], api_model=api)
        results = run_compare(plan, tmp_path / "out", max_new_tokens=4)
    assert list(results.approaches) == ["zero-shot", "head", "api-zero-shot"]
    api_metrics = results.approaches["api-zero-shot"].metrics
    assert set(api_metrics) == {"accuracy", "f1_macro"}          # no log-likelihoods from an API
    assert len(read_rows(tmp_path / "out" / "predictions" / "api-zero-shot.jsonl")) == 5
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert b"sk-test-secret-123" not in path.read_bytes(), path
