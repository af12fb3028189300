"""The user's limits (latency_ms, cost_per_query_usd, budget_usd) against the estimates.

The rules already turn a limit an estimate exceeds into a reason (advisor/rules.py money_and_speed);
this module says which limits could *not* be checked and why, so a limit that was asked is never
silently ignored.
"""
from __future__ import annotations

from tunewise.advisor.records import BLOCKED, Ranked, Recommendation

# answer key -> (estimate key it is checked against, what is missing when that estimate is absent)
LIMITS = {
    "latency_ms": ("latency_ms_per_query", "there is no latency estimate for a model behind an API"),
    "cost_per_query_usd": ("cost_per_query_usd", "no price per token is known (answer token_usd_per_1m)"),
    "budget_usd": ("train_cost_usd", "no price per hour of training is known (answer gpu_hour_usd; "
                                     "training on the CPU is estimated in hours only)"),
}
TRAINING_KEYS = ("train_hours", "train_cost_usd")


def is_limit_reason(reason: str) -> bool:
    """A reason the rules wrote because an estimate exceeds one of the user's limits."""
    return any(f"over {key}" in reason for key in LIMITS)


def ordered_reasons(ranked: Ranked) -> list[str]:
    """Reasons that block first, then exceeded limits, then the rest, each group in rule order."""
    def group(reason: str) -> int:
        return 0 if reason.startswith(BLOCKED) else 1 if is_limit_reason(reason) else 2

    return sorted(ranked.reasons, key=group)


def unchecked_limits(rec: Recommendation) -> list[str]:
    """One sentence per limit the user set that some feasible approach has no estimate to check against."""
    answers = rec.profile.answers
    out = []
    for key, (estimate_key, missing) in LIMITS.items():
        limit = getattr(answers, key)
        if limit is None:
            continue
        relevant = [r for r in rec.ranking if r.feasible and _applies(key, r)]
        unchecked = [r.approach for r in relevant if estimate_key not in r.estimates]
        if unchecked:
            out.append(f"{key} {limit:g} could not be checked for {', '.join(unchecked)}: {missing}.")
    return out


def _applies(key: str, ranked: Ranked) -> bool:
    """A training budget only concerns approaches that train."""
    return key != "budget_usd" or any(k in ranked.estimates for k in TRAINING_KEYS)
