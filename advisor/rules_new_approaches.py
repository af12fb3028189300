"""Advice for few-shot-opt and dpo: their estimates and the one rule that scores them, kept apart from
the core rule table so the approach registry can absorb them as they are.

- dpo needs preference pairs (prompt, a preferred and a dispreferred reply) and local weights; it is the
  tool for behaviour and style (tone, refusals, length) rather than facts or labels.
- few-shot-opt is few-shot with its demonstrations searched on a dev split: worth its search when there
  are enough labelled examples to carve one, and cheaper than fine-tuning.
"""
from __future__ import annotations

from dataclasses import replace

from tunewise.advisor.estimate import Estimate

PRIOR = {"few-shot-opt": 1.0, "dpo": 0.0}
DPO_MIN_PAIRS = 50          # fewer pairs rarely move a policy beyond noise
FEWSHOT_OPT_MIN = 20        # a dev split of 5+ needs about this many labelled examples
SEARCH_TRIALS = 8           # few-shot-opt's default budget (eval/approach_fewshot_opt.py)
SEARCH_DEV = 16
# One DPO step scores chosen and rejected under the policy and again under the reference (adapter off):
# measured at 2.68x a LoRA SFT step on the same pairs on the 2-core CPU (bench/RESULTS.md, 2026-12-01).
DPO_STEP_RATIO = 2.7
BEHAVIOUR_TASKS = ("style", "generation")
# Above LoRA's best case for a style task (+1 data, +3 style, prior 1.5): with pairs, preference tuning is
# the standard tool for behaviour.
DPO_BEHAVIOUR_BONUS = 6.0


def estimate_new(estimates: dict[str, Estimate], is_api: bool) -> dict[str, Estimate]:
    """few-shot-opt: few-shot's per-query costs plus the search; dpo: LoRA's memory, DPO_STEP_RATIO x its time."""
    few = estimates["few-shot"]
    search_hours = (few.latency_ms_per_query or 0.0) * SEARCH_TRIALS * SEARCH_DEV / 3.6e6
    out = {"few-shot-opt": replace(few, train_hours=search_hours if few.latency_ms_per_query else None,
                                   extra={**few.extra, "search": f"{SEARCH_TRIALS} trials x {SEARCH_DEV} dev examples"})}
    lora = estimates["lora"]
    if is_api or lora.train_hours is None:
        out["dpo"] = Estimate()
    else:
        out["dpo"] = replace(lora, train_hours=lora.train_hours * DPO_STEP_RATIO,
                             train_cost_usd=lora.train_cost_usd * DPO_STEP_RATIO if lora.train_cost_usd else None,
                             extra={**lora.extra, "step_ratio_vs_lora": DPO_STEP_RATIO})
    return out


def new_approaches(s) -> list:
    """The rule for dpo and few-shot-opt (a `Situation` -> `Effect`s, as every rule in rules.py)."""
    from tunewise.advisor.rules import Effect

    a, n, pairs = s.answers, s.n, s.answers.preference_pairs
    out = []
    if a.is_api:
        out.append(Effect(("dpo",), f"model_access is {a.model_access}: preference tuning needs local weights.",
                          blocks=True))
    if pairs == 0:
        out.append(Effect(("dpo",), "preference_pairs is 0: DPO learns from pairs of a preferred and a "
                                    "dispreferred reply.", blocks=True))
    elif a.task in BEHAVIOUR_TASKS and pairs >= DPO_MIN_PAIRS:
        out.append(Effect(("dpo",), f"task is {a.task} with {pairs} preference pairs: DPO teaches a behaviour "
                                    "(tone, length, refusals) from what people preferred and what they "
                                    "rejected, which examples alone cannot show.", DPO_BEHAVIOUR_BONUS))
    elif pairs < DPO_MIN_PAIRS:
        out.append(Effect(("dpo",), f"only {pairs} preference pairs (under {DPO_MIN_PAIRS}): too few to move "
                                    "the model reliably.", -2))
    else:
        out.append(Effect(("dpo",), f"task is {a.task}: preference tuning shapes behaviour, not facts or labels.",
                          -1))
    if n < FEWSHOT_OPT_MIN:
        out.append(Effect(("few-shot-opt",), f"labelled_examples is {n}: under {FEWSHOT_OPT_MIN}, there is no "
                                             "dev split to search demonstrations on.", blocks=True))
    else:
        out.append(Effect(("few-shot-opt",), f"{n} labelled examples leave a dev split to search the number, "
                                             "choice and order of demonstrations on.", 0.5))
    return out
