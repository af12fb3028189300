"""What an approach costs beyond its eval score: general knowledge forgotten by fine-tuning, and how it
does (and what it costs to catch up) when the facts change."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tunewise.core import registry
from tunewise.core.data import Example, load_dataset
from tunewise.core.files import read_json, write_json
from tunewise.core.results import CatchUp, Drift
from tunewise.eval import metrics
from tunewise.eval.systems import SYSTEM_PROMPTS
from tunewise.eval.workspace import Built, Workspace

PROBES = Path(__file__).parent / "probes" / "general.jsonl"


def probe_scores(generator, probes: Sequence[Example]) -> dict[str, float]:
    """General knowledge: multiple-choice accuracy by log-likelihood, and the answers' perplexity."""
    correct, pairs = 0, []
    every = generator.loglikelihoods([(probe.prompt_messages(system=SYSTEM_PROMPTS["qa"]), probe.meta["choices"])
                                      for probe in probes])
    for probe, scores in zip(probes, every):
        choices = probe.meta["choices"]
        best = max(range(len(choices)), key=lambda i: scores[i][0])
        correct += choices[best] == probe.response
        pairs.append(scores[choices.index(probe.response)])
    return {"accuracy": round(correct / len(probes), 4), "perplexity": round(metrics.perplexity(pairs), 4)}


def forgetting(ws: Workspace, tuned) -> dict[str, float]:
    """The shipped probe set before (base model, scored once per folder) and after fine-tuning."""
    probes = list(load_dataset(PROBES).examples)
    cache = ws.out / "probes-base.json"
    if not cache.exists():
        write_json(cache, probe_scores(ws.generator(), probes))
    before, after = read_json(cache), probe_scores(tuned, probes)
    return {"probe_accuracy_before": before["accuracy"], "probe_accuracy_after": after["accuracy"],
            "probe_perplexity_before": before["perplexity"], "probe_perplexity_after": after["perplexity"]}


def drift(ws: Workspace, name: str, built: Built, corpus_next, eval_next, predict) -> Drift:
    """Score again on questions about changed facts: retrieval after an incremental re-index, tuned models
    as they are (not retrained), with what catching up costs each way. `predict(system, examples)` scores."""
    system = built.system
    if registry.spec(name).retrieves:
        index, seconds, counts = ws.drift_index(corpus_next)
        system = system.with_messages(ws.rag_messages(system.generator, index))
        changed = counts["added"] + counts["updated"] + counts["deleted"]
        catch_up = CatchUp(seconds=round(seconds, 2), how=f"incremental re-index: {changed} changed documents, "
                                                          f"{counts['chunks_embedded']} chunks embedded")
    elif built.tuned_generator is not None:
        catch_up = CatchUp(seconds=round(built.train_seconds, 2),
                           how="retrain with the new facts (not run here; the measured training time)")
    else:
        catch_up = CatchUp(seconds=0.0, how="nothing to update; the facts were never in the prompt")
    rows = predict(system, eval_next)
    return Drift(metrics=metrics.task_metrics(ws.task, rows), catch_up=catch_up)


def check_answers(plan) -> dict[str, int]:
    """How many answers compare makes beyond the eval set, for estimates of what it costs: `drift` questions
    for every LM approach (when the plan has a changed corpus), `injection` questions for every retrieving
    one and `probes` per model (forgetting, plus refusal when safety is on) for every tuned LM and the base
    model once (eval/safety.py)."""
    from tunewise.eval.safety import INJECTION_QUESTIONS, load_refusal_probes

    drift_questions = len(load_dataset(plan.eval_next)) if plan.eval_next and plan.corpus_next else 0
    probes = len(load_dataset(PROBES)) + (len(load_refusal_probes()) if plan.safety else 0)
    return {"drift": drift_questions, "injection": INJECTION_QUESTIONS if plan.safety else 0, "probes": probes}
