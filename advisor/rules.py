"""The recommendation: every approach scored by a table of rules, each effect with its reason.

A rule looks at the situation (answers, measured data, hardware, estimates) and returns effects: a
score change or a block (infeasible), each with one sentence naming the answer or measurement behind it.
Feasible approaches rank above infeasible ones, then by score; ties go to the cheaper approach.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tunewise.advisor.estimate import (
    QUERY_TOKENS, Calibration, Estimate, Hardware, Workload, estimate_in_context, estimate_provider_tuning,
    estimate_tuned, shape_for,
)
from tunewise.advisor.records import FAST_CHANGES, Answers, CorpusProfile, DataProfile, Profile, Ranked, Recommendation
from tunewise.advisor.rules_new_approaches import PRIOR as NEW_PRIOR, estimate_new, new_approaches
from tunewise.core.schema import APPROACHES

IN_CONTEXT = ("zero-shot", "few-shot", "rag")
TUNED = ("lora", "qlora", "full", "prompt-tuning", "head", "rag+lora")
RETRIEVAL = ("rag", "rag+lora")
TUNE_MIN = 100           # fewer labelled examples: fine-tuning overfits; use them in the prompt
TUNE_GOOD = 1000         # from here fine-tuning usually beats in-context examples
FULL_MIN = 10000         # full fine-tuning beats LoRA only with a lot of data
CLASSIFY_PLENTY = 500    # labels enough for a head to beat prompting
MAX_TRAIN_HOURS = 72.0
LARGE_MODEL_B = 30.0
SMALL_MODEL_B = 1.0
PRIOR = {"zero-shot": 1.0, "few-shot": 2.0, "rag": 1.0, "lora": 1.5, "qlora": 1.0, "full": 0.0,
         "prompt-tuning": 0.5, "head": 0.0, "rag+lora": 0.0, **NEW_PRIOR}
BASICS = {
    "zero-shot": "zero-shot is the baseline every other approach must beat.",
    "few-shot": "few-shot shows a few labelled examples in every prompt.",
    "rag": "rag puts passages retrieved from the corpus into every prompt.",
    "prompt-tuning": "prompt tuning trains only a few virtual tokens: cheap, but usually below LoRA.",
}


@dataclass(frozen=True)
class Effect:
    approaches: tuple[str, ...]
    reason: str
    delta: float = 0.0
    blocks: bool = False


@dataclass(frozen=True)
class Situation:
    answers: Answers
    work: Workload
    hw: Hardware
    estimates: dict[str, Estimate]

    @property
    def n(self) -> int:
        return self.answers.labelled_examples

    @property
    def needs_knowledge(self) -> bool:
        a = self.answers
        return a.knowledge_changes in FAST_CHANGES or a.long_tail or (a.task == "qa" and a.corpus_documents > 0)


def access(s: Situation) -> list[Effect]:
    if s.answers.model_access == "api-only":
        return [Effect(TUNED, "model_access is api-only: its weights cannot be fine-tuned locally, so use "
                              "few-shot prompting or retrieval.", blocks=True)]
    if s.answers.model_access == "api-finetune":
        return [Effect(("qlora", "full", "prompt-tuning", "head"), "model_access is api-finetune: there are "
                       "no local weights, only the provider's fine-tuning API.", blocks=True),
                Effect(("lora", "rag+lora"), "model_access is api-finetune: tuning runs through the provider's "
                       "fine-tuning API, not locally.")]
    return []


def privacy(s: Situation) -> list[Effect]:
    if s.answers.is_api and not s.answers.data_may_leave:
        return [Effect(APPROACHES, "data_may_leave is no, but the model is an API: every prompt would leave "
                                   "the premises; use open weights instead.", blocks=True)]
    return []


def labelled_data(s: Situation) -> list[Effect]:
    n = s.n
    if n == 0:
        return [Effect(("few-shot",) + TUNED, "labelled_examples is 0: nothing to show in a prompt or to "
                                             "train on.", blocks=True)]
    if n < TUNE_MIN:
        return [Effect(TUNED, f"only {n} labelled examples (under {TUNE_MIN}): too few to fine-tune reliably; "
                              "show them in the prompt instead.", -3),
                Effect(("few-shot",), f"{n} labelled examples are enough to pick good demonstrations.", 1.5)]
    out = [Effect(("lora", "qlora", "prompt-tuning", "rag+lora"),
                  f"{n} labelled examples are enough to fine-tune ({TUNE_MIN} or more).", 1)]
    if n >= TUNE_GOOD:
        out.append(Effect(("lora", "qlora"), f"{n} labelled examples ({TUNE_GOOD} or more): fine-tuning "
                                             "usually beats in-context examples.", 1))
    if n >= FULL_MIN:
        out.append(Effect(("full",), f"{n} labelled examples ({FULL_MIN} or more) can pay for full "
                                     "fine-tuning.", 2))
    else:
        out.append(Effect(("full",), f"labelled_examples is {n}: full fine-tuning needs about {FULL_MIN} or "
                                     "more to beat LoRA.", -2))
    return out


def knowledge(s: Situation) -> list[Effect]:
    a = s.answers
    if a.corpus_documents == 0:
        return [Effect(RETRIEVAL, "corpus_documents is 0: retrieval has nothing to search.", blocks=True)]
    out = []
    if a.knowledge_changes in FAST_CHANGES:
        out += [Effect(RETRIEVAL, f"knowledge changes {a.knowledge_changes}: re-indexing keeps answers "
                                  "current, tuned weights would need retraining.", 3),
                Effect(("lora", "qlora", "full", "prompt-tuning"), f"knowledge changes {a.knowledge_changes}: "
                       "facts baked into weights go stale.", -1)]
    elif a.knowledge_changes == "yearly":
        out.append(Effect(RETRIEVAL, "knowledge changes yearly: a re-index is cheaper than a retrain.", 1))
    if a.long_tail:
        out.append(Effect(RETRIEVAL, "long_tail is yes: models do not remember rare facts, so retrieve them.", 3))
    if a.task == "qa":
        out.append(Effect(RETRIEVAL, f"task is qa over {a.corpus_documents} documents: answers should come "
                                     "from the documents.", 2))
    return out


def task_fit(s: Situation) -> list[Effect]:
    a, n = s.answers, s.n
    out = []
    if a.task != "classification":
        out.append(Effect(("head",), f"task is {a.task}: a classifier head only predicts labels.", blocks=True))
    elif n >= CLASSIFY_PLENTY:
        out += [Effect(("head",), f"task is classification with {n} labelled examples: a classifier head learns "
                                  "the labels directly and answers in one forward pass.", 4),
                Effect(("lora",), f"task is classification with {n} labelled examples: LoRA learns the "
                                  "labels too.", 2)]
    elif n >= TUNE_MIN:
        out.append(Effect(("head",), f"task is classification with {n} labelled examples: enough for a "
                                     "classifier head.", 1))
    if a.task == "style" and n >= TUNE_MIN:
        out.append(Effect(("lora", "qlora", "full", "prompt-tuning"), f"task is style with {n} examples: "
                          "fine-tuning teaches a behaviour that a prompt can only describe.", 3))
    elif a.task in ("extraction", "generation") and n >= TUNE_MIN:
        out.append(Effect(("lora", "qlora"), f"task is {a.task}: a consistent output format is learned well "
                                             f"from {n} examples.", 1))
    if s.needs_knowledge and n >= TUNE_MIN and a.task != "classification" and a.corpus_documents > 0:
        out.append(Effect(("rag+lora",), f"the task needs knowledge from the corpus and a format learned from "
                                         f"{n} examples: combine retrieval with LoRA.", 4))
    return out


def memory(s: Situation) -> list[Effect]:
    where = "GPU memory" if s.hw.kind == "gpu" else "RAM"
    out, fits = [], {}
    for approach, est in s.estimates.items():
        if est.memory_gb is None:
            continue
        fits[approach] = est.memory_gb <= s.hw.memory_gb
        if not fits[approach]:
            out.append(Effect((approach,), f"needs about {est.memory_gb:.1f} GB, more than the "
                                           f"{s.hw.memory_gb:g} GB of {where}.", blocks=True))
    mem = {k: v.memory_gb for k, v in s.estimates.items()}
    if fits.get("full") is False and fits.get("lora"):
        out.append(Effect(("lora",), f"full fine-tuning does not fit ({mem['full']:.1f} GB) but LoRA does "
                                     f"({mem['lora']:.1f} GB).", 1))
    if fits.get("lora") is False and fits.get("qlora") and s.hw.kind == "gpu":
        out.append(Effect(("qlora",), f"LoRA does not fit ({mem['lora']:.1f} GB) but QLoRA's 4-bit weights "
                                      f"do ({mem['qlora']:.1f} GB).", 2))
    return out


def hardware(s: Situation) -> list[Effect]:
    out = []
    if s.hw.kind == "cpu" and not s.answers.is_api:
        out.append(Effect(("qlora",), "gpu_memory_gb is 0: QLoRA's 4-bit kernels need a CUDA GPU.", blocks=True))
    for approach, est in s.estimates.items():
        if est.train_hours is not None and est.train_hours > MAX_TRAIN_HOURS:
            out.append(Effect((approach,), f"training would take about {est.train_hours:.0f} hours on this "
                                           f"{s.hw.kind.upper()}, over {MAX_TRAIN_HOURS:.0f}.", blocks=True))
    return out


def money_and_speed(s: Situation) -> list[Effect]:
    a, out = s.answers, []
    for approach, est in s.estimates.items():
        if a.budget_usd is not None and est.train_cost_usd is not None and est.train_cost_usd > a.budget_usd:
            out.append(Effect((approach,), f"training would cost about ${est.train_cost_usd:,.2f}, over "
                                           f"budget_usd ${a.budget_usd:,.2f}.", blocks=True))
        latency = est.latency_ms_per_query
        if a.latency_ms is not None and latency is not None and latency > a.latency_ms:
            out.append(Effect((approach,), f"about {latency:,.0f} ms per query, over latency_ms "
                                           f"{a.latency_ms:g}.", -2))
        cost = est.cost_per_query_usd
        if a.cost_per_query_usd is not None and cost is not None and cost > a.cost_per_query_usd:
            out.append(Effect((approach,), f"about ${cost:.5f} per query, over cost_per_query_usd "
                                           f"${a.cost_per_query_usd:g}.", -2))
    return out


def model_size(s: Situation) -> list[Effect]:
    p = s.answers.model_params_b
    if p >= LARGE_MODEL_B:
        return [Effect(("few-shot",), f"model_params_b is {p:g}: large models learn well from examples in "
                                      "the prompt.", 1)]
    if p < SMALL_MODEL_B:
        return [Effect(("zero-shot",), f"model_params_b is {p:g}: small models follow bare instructions "
                                       "poorly.", -1)]
    return []


RULES: tuple[Callable[[Situation], list[Effect]], ...] = (
    access, privacy, labelled_data, knowledge, task_fit, memory, hardware, money_and_speed, model_size,
    new_approaches,
)


def estimate_all(answers: Answers, work: Workload, hw: Hardware, model: str | None = None,
                 calibrations: tuple[Calibration, ...] = ()) -> dict[str, Estimate]:
    """Every approach's estimates: local ones from the formulas, API ones from prices only."""
    shape = shape_for(answers.model_params_b, model)
    price = answers.token_usd_per_1m
    out = {a: estimate_in_context(a, shape, work, hw, answers.is_api, price) for a in IN_CONTEXT}
    for approach in TUNED:
        if not answers.is_api:
            out[approach] = estimate_tuned(approach, shape, work, hw, model, answers.gpu_hour_usd)
        elif answers.model_access == "api-finetune" and approach in ("lora", "rag+lora"):
            out[approach] = estimate_provider_tuning(work, price)
        else:
            out[approach] = Estimate()
    out.update(estimate_new(out, answers.is_api))
    for calibration in calibrations:
        if calibration.method in out:
            out[calibration.method] = calibration.apply(out[calibration.method])
    return out


def workload(answers: Answers, data: DataProfile | None, corpus: CorpusProfile | None) -> Workload:
    """Sizes for the estimates: measured where files were given, else typical values."""
    mean = data.tokens.mean if data else 64.0
    # Train at the 95th percentile length, in steps of 64 tokens, between 64 and 2048.
    seq = min(2048, max(64, -(-data.tokens.p95 // 64) * 64)) if data else 512
    return Workload(examples=answers.labelled_examples, mean_tokens=mean, seq_len=seq,
                    corpus_documents=answers.corpus_documents,
                    corpus_chunks=corpus.chunks_estimate if corpus else None,
                    prompt_tokens=round(mean) if data else QUERY_TOKENS)


def rank(situation: Situation) -> list[Ranked]:
    scores = dict(PRIOR)
    reasons: dict[str, list[str]] = {a: [BASICS[a]] if a in BASICS else [] for a in APPROACHES}
    blocked: set[str] = set()
    for rule in RULES:
        for effect in rule(situation):
            for approach in effect.approaches:
                scores[approach] += effect.delta
                reasons[approach].append(effect.reason)
                if effect.blocks:
                    blocked.add(approach)
    ranked = [Ranked(approach=a, feasible=a not in blocked, score=round(scores[a], 2), reasons=reasons[a],
                     estimates=situation.estimates[a].to_dict()) for a in APPROACHES]
    order = {a: i for i, a in enumerate(APPROACHES)}
    return sorted(ranked, key=lambda r: (not r.feasible, -r.score, order[r.approach]))


def recommend(answers: Answers, data: DataProfile | None = None, corpus: CorpusProfile | None = None,
              model: str | None = None, calibrations: tuple[Calibration, ...] = ()) -> Recommendation:
    """Ranked approaches with reasons and estimates; the top feasible one is the recommendation."""
    answers, notes = fill_from_files(answers, data, corpus)
    work = workload(answers, data, corpus)
    hw = Hardware(gpu_memory_gb=answers.gpu_memory_gb, ram_gb=answers.ram_gb)
    ranking = rank(Situation(answers, work, hw, estimate_all(answers, work, hw, model, calibrations)))
    if not ranking[0].feasible:
        notes.append("No approach is feasible as stated; the ranking shows what blocks each one.")
    profile = Profile(answers=answers, data=data, corpus=corpus, notes=notes)
    return Recommendation(recommendation=ranking[0].approach, ranking=ranking, profile=profile)


def fill_from_files(answers: Answers, data: DataProfile | None,
                    corpus: CorpusProfile | None) -> tuple[Answers, list[str]]:
    """Counts come from the files when given (they are measurements); the task only when not answered."""
    updates, notes = {}, []
    if data is not None:
        updates["labelled_examples"] = data.examples
        notes.append(f"labelled_examples = {data.examples}, counted in {data.path}.")
        task = {"classification": "classification", "qa": "qa"}.get(data.format)
        if task and "task" not in answers.model_fields_set:
            updates["task"] = task
            notes.append(f"task = {task}, from the {data.format} format of {data.path}.")
    if corpus is not None:
        updates["corpus_documents"] = corpus.documents
        notes.append(f"corpus_documents = {corpus.documents}, counted in {corpus.path}.")
    if not updates:
        return answers, notes
    filled = answers.model_copy(update=updates)
    # model_copy keeps the set of answered keys; the filled ones count as answered now.
    filled.model_fields_set.update(updates)
    return filled, notes
