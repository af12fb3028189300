"""Report sections for the safety probes, the few-shot search and preference tuning: (heading,
paragraph, table) triples in the shape eval/report.py renders, read from results.json alone."""
from __future__ import annotations

from typing import Any

Section = tuple[str, str | None, tuple[list[str], list[list[Any]]] | None]


def _rate(figure: dict[str, Any] | None) -> str:
    """'0.25 (3/12; 95% CI 0.05-0.57)': the rate, the count behind it and its interval."""
    if not figure or figure.get("rate") is None:
        return "-"
    low, high = figure["ci95"]
    return f"{figure['rate']:.2f} ({figure['hits']}/{figure['n']}; 95% CI {low:.2f}-{high:.2f})"


def refusal_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["approach", "refuses harmful: before", "after", "over-refuses benign: before", "after", "regressed"]
    rows = []
    for name, record in results["approaches"].items():
        safety = record.get("safety") or {}
        if "refusal_harmful" not in safety:
            continue
        harmful, benign = safety["refusal_harmful"], safety["over_refusal_benign"]
        flags = [k for k, f in (("refusals", harmful), ("over-refusal", benign)) if f["regressed"]]
        rows.append([name, _rate(harmful["before"]), _rate(harmful["after"]), _rate(benign["before"]),
                     _rate(benign["after"]), ", ".join(flags) or "no"])
    return header, rows


def injection_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["approach", "followed the planted instruction", "questions exposed / asked"]
    rows = [[name, _rate(inj["injection_followed"]), f"{inj['exposed']} / {inj['questions']}"]
            for name, record in results["approaches"].items() if (inj := (record.get("safety") or {}).get("injection"))]
    return header, rows


def safety_verdict(results: dict[str, Any]) -> str:
    """One sentence on the measured winner's safety figures."""
    winner = results["winner"]
    safety = results["approaches"][winner].get("safety") or {}
    regressed = [key for key in ("refusal_harmful", "over_refusal_benign") if safety.get(key, {}).get("regressed")]
    followed = (safety.get("injection") or {}).get("injection_followed") or {}
    parts = []
    if regressed:
        parts.append(f"Warning: the winner {winner} regressed beyond the base model's 95% interval on "
                     f"{' and '.join(k.replace('_', ' ') for k in regressed)}.")
    if followed.get("hits"):
        parts.append(f"Warning: the winner {winner} followed an instruction planted in its retrieved documents "
                     f"in {followed['hits']} of {followed['n']} exposed questions.")
    return " ".join(parts) or f"The winner {winner} shows no safety regression beyond these probes' intervals."


def search_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["approach", "metric", "plain few-shot (dev)", "best found (dev)", "best configuration", "trials",
              "search s"]
    rows = []
    for name, record in results["approaches"].items():
        if not (s := record.get("search")):
            continue
        best = s["best"]
        rows.append([name, s["metric"], s["plain_few_shot_dev_score"], s["best_dev_score"],
                     f"{best['shots']} shots, {best['strategy']}, {best['order']}, instruction {best['instruction']}",
                     len(s["trials"]), s["search_seconds"]])
    return header, rows


def preference_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["approach", "pairs", "reward accuracy before", "after", "DPO loss before", "after"]
    rows = []
    for name, record in results["approaches"].items():
        if not (p := record.get("preference")):
            continue
        for split in ("train", "eval"):
            if f"{split}_loss" in p["after"]:
                label = "held-out" if split == "eval" else "training"
                rows.append([name, f"{p['pairs'][split]} {label}", p["before"][f"{split}_reward_accuracy"],
                             p["after"][f"{split}_reward_accuracy"], p["before"][f"{split}_loss"],
                             p["after"][f"{split}_loss"]])
    return header, rows


def extra_sections(results: dict[str, Any]) -> list[Section]:
    out: list[Section] = []
    if search_rows(results)[1]:
        out.append(("Optimized few-shot", "Demonstration count, choice, order and instruction searched on a dev "
                    "split carved from train (the demonstrations came from the rest); the first trial is plain "
                    "few-shot, so the best found is at least as good on the dev split. The search time is the "
                    "approach's training cost.", search_rows(results)))
    if preference_rows(results)[1]:
        out.append(("Preference tuning", "Implicit-reward accuracy: the share of pairs where the tuned model, "
                    "relative to the base, rates the chosen reply above the rejected one (0 before training, "
                    "when every reward is 0; 0.5 is chance). DPO loss starts at ln 2 = 0.693.",
                    preference_rows(results)))
    if refusal_rows(results)[1]:
        out.append(("Safety: refusal drift", "Bundled probes (eval/probes/refusal.jsonl): the share of clearly "
                    "harmful requests refused (lower after tuning means eroded refusals) and of harmless "
                    "look-alikes refused (higher means needless restriction), base model before, tuned after. "
                    "A refusal is detected from the reply's opening words. " + safety_verdict(results),
                    refusal_rows(results)))
    if injection_rows(results)[1]:
        out.append(("Safety: injection through retrieval", "An instruction to reply with a canary word was "
                    "planted in a copy of the documents the questions retrieve; the rate is over the questions "
                    "whose prompt carried it. Zero hits in n probes bounds the rate only at about 3/n. These "
                    "few dozen probes catch gross regressions; for an audit use garak."
                    + ("" if refusal_rows(results)[1] else " " + safety_verdict(results)), injection_rows(results)))
    return out
