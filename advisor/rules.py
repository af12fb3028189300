"""The recommendation: every approach scored by a table of rules, each effect with its reason.

A rule looks at the situation (answers, measured data, hardware, estimates) and returns effects: a
score change or a block (infeasible), each with one sentence naming the answer or measurement behind it.
Feasible approaches rank above infeasible ones, then by score; ties go to the one registered first.
Rules name no approach: they select by what the registry says an approach is, needs and does
(`core.registry`), so a new approach is ranked by the same rules as soon as it is registered.
The thresholds are hand-set rules of thumb; each names where it comes from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tunewise.advisor.estimate import (
    DEFAULT_LABELS, QUERY_TOKENS, Calibration, Estimate, Hardware, Workload, estimate_in_context,
    estimate_provider_tuning, estimate_tuned, shape_for,
)
from tunewise.advisor.records import BLOCKED, FAST_CHANGES, Answers, CorpusProfile, DataProfile, Profile, Ranked, Recommendation
from tunewise.core import registry
from tunewise.core.registry import ApproachSpec

# Sources: TUNE_MIN and TUNE_GOOD follow Mosbach et al. 2023 (few-shot fine-tuning vs in-context learning:
# fine-tuning needs hundreds of examples to pay and wins clearly from about a thousand); FULL_MIN follows
# the LoRA paper (Hu et al. 2021) and Biderman et al. 2024 ("LoRA learns less and forgets less": full
# fine-tuning pulls ahead only with large data); CLASSIFY_PLENTY is this project's own rule of thumb, to
# be replaced by the ledger of measured runs; MAX_TRAIN_HOURS is a working week of one machine.
TUNE_MIN = 100           # fewer labelled examples: fine-tuning overfits; use them in the prompt
TUNE_GOOD = 1000         # from here fine-tuning usually beats in-context examples
FULL_MIN = 10000         # full fine-tuning beats LoRA only with a lot of data
CLASSIFY_PLENTY = 500    # labels enough for a head to beat prompting
MAX_TRAIN_HOURS = 72.0
LARGE_MODEL_B = 30.0     # in-context learning improves with scale (Brown et al. 2020)
SMALL_MODEL_B = 1.0
# Preference tuning: fewer pairs rarely move a policy beyond noise (this project's rule of thumb; the DPO
# paper's own tasks use thousands); with pairs it outranks LoRA's best case on a behaviour task.
PREFERENCE_MIN = 50
PREFERENCE_BONUS = 6.0
BEHAVIOUR_TASKS = ("style", "generation")
PLAN_TASK = {"classification": "classification", "extraction": "generation", "generation": "generation",
             "qa": "qa", "style": "generation"}


def having(test) -> tuple[str, ...]:
    """The registered approaches for which `test(spec)` holds, in registry order."""
    return registry.select(test)


def tuned(s: ApproachSpec) -> bool:
    return s.tuned


def retrieval(s: ApproachSpec) -> bool:
    return s.retrieves


def tunes_the_lm(s: ApproachSpec) -> bool:
    """Fine-tunes the generator itself and answers without retrieval: what it knows is in its weights."""
    return s.tuned and not s.retrieves and not s.has("classifier")


def learns_from_labels(s: ApproachSpec) -> bool:
    return s.tuned and "labels" in s.needs


def trait(name: str):
    return lambda s: s.has(name)


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
        return [Effect(having(tuned), "model_access is api-only: its weights cannot be fine-tuned locally, so use "
                              "few-shot prompting or retrieval.", blocks=True)]
    if s.answers.model_access == "api-finetune":
        return [Effect(having(lambda s: s.tuned and not s.has("provider-tunable")), "model_access is "
                       "api-finetune: there are no local weights, only the provider's fine-tuning API.", blocks=True),
                Effect(having(trait("provider-tunable")), "model_access is api-finetune: tuning runs through the provider's "
                       "fine-tuning API, not locally.")]
    return []


def privacy(s: Situation) -> list[Effect]:
    if s.answers.is_api and not s.answers.data_may_leave:
        return [Effect(registry.names(), "data_may_leave is no, but the model is an API: every prompt would leave "
                                   "the premises; use open weights instead.", blocks=True)]
    return []


def labelled_data(s: Situation) -> list[Effect]:
    n = s.n
    if n == 0:
        return [Effect(having(lambda s: "labels" in s.needs), "labelled_examples is 0: nothing to show in a prompt or to "
                                             "train on.", blocks=True)]
    if n < TUNE_MIN:
        return [Effect(having(learns_from_labels), f"only {n} labelled examples (under {TUNE_MIN}): too few to fine-tune reliably; "
                              "show them in the prompt instead.", -3),
                Effect(having(shows_examples), f"{n} labelled examples are enough to pick good demonstrations.", 1.5)]
    out = [Effect(having(trait("adapter")),
                  f"{n} labelled examples are enough to fine-tune ({TUNE_MIN} or more).", 1)]
    if n >= TUNE_GOOD:
        out.append(Effect(having(trait("learns-format")), f"{n} labelled examples ({TUNE_GOOD} or more): fine-tuning "
                                             "usually beats in-context examples.", 1))
    if n >= FULL_MIN:
        out.append(Effect(having(trait("all-weights")), f"{n} labelled examples ({FULL_MIN} or more) can pay for full "
                                     "fine-tuning.", 2))
    else:
        out.append(Effect(having(trait("all-weights")), f"labelled_examples is {n}: full fine-tuning needs about {FULL_MIN} or "
                                     "more to beat LoRA.", -2))
    return out


def knowledge(s: Situation) -> list[Effect]:
    a = s.answers
    if a.corpus_documents == 0:
        return [Effect(having(retrieval), "corpus_documents is 0: retrieval has nothing to search.", blocks=True)]
    out = []
    if a.knowledge_changes in FAST_CHANGES:
        out += [Effect(having(retrieval), f"knowledge changes {a.knowledge_changes}: re-indexing keeps answers "
                                  "current, tuned weights would need retraining.", 3),
                Effect(having(tunes_the_lm), f"knowledge changes {a.knowledge_changes}: "
                       "facts baked into weights go stale.", -1)]
    elif a.knowledge_changes == "yearly":
        out.append(Effect(having(retrieval), "knowledge changes yearly: a re-index is cheaper than a retrain.", 1))
    if a.long_tail:
        out.append(Effect(having(retrieval), "long_tail is yes: models do not remember rare facts, so retrieve them.", 3))
    if a.task == "qa":
        out.append(Effect(having(retrieval), f"task is qa over {a.corpus_documents} documents: answers should come "
                                     "from the documents.", 2))
    return out


def task_fit(s: Situation) -> list[Effect]:
    a, n = s.answers, s.n
    out = [Effect((spec.name,), f"task is {a.task}: {spec.tasks_note or spec.name + ' does not apply to it'}.",
                  blocks=True)
           for spec in registry.specs() if PLAN_TASK[a.task] not in spec.tasks]
    if a.task == "classification" and n >= CLASSIFY_PLENTY:
        out += [Effect(having(trait("classifier")), f"task is classification with {n} labelled examples: a "
                       "classifier head learns the labels directly and answers in one forward pass.", 4),
                Effect(having(lambda s: s.has("learns-format") and not s.has("quantized")), f"task is "
                       f"classification with {n} labelled examples: LoRA learns the labels too.", 2)]
    elif a.task == "classification" and n >= TUNE_MIN:
        out.append(Effect(having(trait("classifier")), f"task is classification with {n} labelled examples: "
                                                       "enough for a classifier head.", 1))
    if a.task == "style" and n >= TUNE_MIN:
        out.append(Effect(having(lambda s: tunes_the_lm(s) and learns_from_labels(s)), f"task is style with {n} "
                          "examples: fine-tuning teaches a "
                                                "behaviour that a prompt can only describe.", 3))
    elif a.task in ("extraction", "generation") and n >= TUNE_MIN:
        out.append(Effect(having(trait("learns-format")), f"task is {a.task}: a consistent output format is "
                                                          f"learned well from {n} examples.", 1))
    if s.needs_knowledge and n >= TUNE_MIN and a.task != "classification" and a.corpus_documents > 0:
        out.append(Effect(having(lambda s: s.tuned and s.retrieves), "the task needs knowledge from the corpus "
                          f"and a format learned from {n} examples: combine retrieval with LoRA.", 4))
    return out


def shows_examples(s: ApproachSpec) -> bool:
    """Learns from labelled examples in the prompt, not from training."""
    return not s.tuned and "labels" in s.needs


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
    # A LoRA-class learner that fits gains where a heavier way to tune the same model does not.
    for spec in registry.specs():
        if not (spec.has("learns-format") and fits.get(spec.name)):
            continue
        mine = s.estimates[spec.name].memory_gb
        heavier = [o for o in registry.specs() if (o.has("all-weights") or o.has("learns-format"))
                   and fits.get(o.name) is False and s.estimates[o.name].memory_gb > mine]
        if heavier and (not spec.has("quantized") or s.hw.kind == "gpu"):
            other = min(heavier, key=lambda o: s.estimates[o.name].memory_gb)
            how = "'s 4-bit base weights" if spec.has("quantized") else ""
            out.append(Effect((spec.name,), f"{other.name} does not fit ({s.estimates[other.name].memory_gb:.1f} "
                              f"GB) but {spec.name}{how} do ({mine:.1f} GB).", 2 if spec.has("quantized") else 1))
    return out


def hardware(s: Situation) -> list[Effect]:
    out = []
    if s.hw.kind == "cpu" and not s.answers.is_api:
        out += [Effect((name,), f"gpu_memory_gb is 0: the kernels {name} relies on need a CUDA GPU.", blocks=True)
                for name in having(lambda s: "gpu" in s.needs)]
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


def preferences(s: Situation) -> list[Effect]:
    """Approaches that learn from preference pairs: the standard tool for behaviour, not for facts or labels."""
    a, pairs, names = s.answers, s.answers.preference_pairs, having(lambda s: "preferences" in s.needs)
    if not names:
        return []
    if pairs == 0:
        return [Effect(names, "preference_pairs is 0: DPO learns from pairs of a preferred and a dispreferred "
                              "reply.", blocks=True)]
    if pairs < PREFERENCE_MIN:
        return [Effect(names, f"only {pairs} preference pairs (under {PREFERENCE_MIN}): too few to move the "
                              "model reliably.", -2)]
    if a.task in BEHAVIOUR_TASKS:
        return [Effect(names, f"task is {a.task} with {pairs} preference pairs: preference tuning teaches a "
                              "behaviour (tone, length, refusals) from what people preferred and what they "
                              "rejected, which examples alone cannot show.", PREFERENCE_BONUS)]
    return [Effect(names, f"task is {a.task}: preference tuning shapes behaviour, not facts or labels.", -1)]


def minimum_labels(s: Situation) -> list[Effect]:
    """Approaches that carve a dev split from the labelled examples need enough of them to do so."""
    out = []
    for spec in registry.specs():
        if not spec.min_labels:
            continue
        if s.n < spec.min_labels:
            out.append(Effect((spec.name,), f"labelled_examples is {s.n}: {spec.name} needs at least "
                                            f"{spec.min_labels} to carve a dev split to search on.", blocks=True))
        else:
            out.append(Effect((spec.name,), f"{s.n} labelled examples leave a dev split for {spec.name} to "
                                            "search on.", 0.5))
    return out


def model_size(s: Situation) -> list[Effect]:
    p = s.answers.model_params_b
    if s.answers.is_api and "model_params_b" not in s.answers.model_fields_set:
        return []  # the questionnaire does not ask an API model's size: nothing to say about it
    if p >= LARGE_MODEL_B:
        return [Effect(having(shows_examples), f"model_params_b is {p:g}: large models learn well from examples in "
                                      "the prompt.", 1)]
    if p < SMALL_MODEL_B:
        return [Effect(having(trait("baseline")), f"model_params_b is {p:g}: small models follow bare instructions "
                                       "poorly.", -1)]
    return []


RULES: tuple[Callable[[Situation], list[Effect]], ...] = (
    access, privacy, labelled_data, knowledge, task_fit, memory, hardware, money_and_speed, model_size,
    preferences, minimum_labels,
)


def estimate_all(answers: Answers, work: Workload, hw: Hardware, model: str | None = None,
                 calibrations: tuple[Calibration, ...] = ()) -> dict[str, Estimate]:
    """Every approach's estimates: local ones from the formulas, API ones from prices only."""
    shape = shape_for(answers.model_params_b, model)
    price = answers.token_usd_per_1m
    out = {}
    for spec in registry.specs():
        if not spec.tuned:
            out[spec.name] = estimate_in_context(spec, shape, work, hw, answers.is_api, price)
        elif not answers.is_api:
            out[spec.name] = estimate_tuned(spec, shape, work, hw, model, answers.gpu_hour_usd)
        elif answers.model_access == "api-finetune" and spec.has("provider-tunable"):
            out[spec.name] = estimate_provider_tuning(work, price)
        else:
            out[spec.name] = Estimate()
    for calibration in calibrations:
        for spec in registry.specs():
            if spec.trainer == calibration.method and spec.name in out and not answers.is_api:
                out[spec.name] = calibration.apply(out[spec.name])
    return out


def workload(answers: Answers, data: DataProfile | None, corpus: CorpusProfile | None) -> Workload:
    """Sizes for the estimates: measured where files were given, else typical values."""
    mean = data.tokens.mean if data else 64.0
    # Train at the 95th percentile length, in steps of 64 tokens, between 64 and 2048.
    seq = min(2048, max(64, -(-data.tokens.p95 // 64) * 64)) if data else 512
    return Workload(examples=answers.labelled_examples, mean_tokens=mean, seq_len=seq,
                    corpus_documents=answers.corpus_documents,
                    corpus_chunks=corpus.chunks_estimate if corpus else None,
                    prompt_tokens=round(mean) if data else QUERY_TOKENS, labels=label_count(answers, data))


def label_count(answers: Answers, data: DataProfile | None) -> int:
    """The labels a classification chooses among (counted in the data, else DEFAULT_LABELS); 0 when the
    answers are generated."""
    if PLAN_TASK[answers.task] != "classification":
        return 0
    return len(data.label_counts) if data and data.label_counts else DEFAULT_LABELS


def rank(situation: Situation) -> list[Ranked]:
    specs = registry.specs()
    scores = {s.name: s.prior for s in specs}
    reasons: dict[str, list[str]] = {s.name: [s.summary] if s.summary else [] for s in specs}
    blocked: set[str] = set()
    for rule in RULES:
        for effect in rule(situation):
            for approach in effect.approaches:
                scores[approach] += effect.delta
                reasons[approach].append(BLOCKED + effect.reason if effect.blocks else effect.reason)
                if effect.blocks:
                    blocked.add(approach)
    ranked = [Ranked(approach=a, feasible=a not in blocked, score=round(scores[a], 2), reasons=reasons[a],
                     estimates=situation.estimates[a].to_dict()) for a in scores]
    order = {a: i for i, a in enumerate(scores)}
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
