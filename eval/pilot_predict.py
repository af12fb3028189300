"""From the pilot's measured points to predictions at full scale, and what is said about them.

- A trainable approach's curve (eval/curves.py) is in examples seen (steps x batch) and starts at its
  untrained anchor's score when the anchor answered the same sample; it is extrapolated to the plan's
  steps when the fit is stable, else the last point stands.
- Every prediction has a 95% interval: a bootstrap over the sample's examples (refitting the curve on
  each resample), widened by the fit's own delta-method error.
- The user's limits (latency, memory, money) are checked against what was measured.
"""
from __future__ import annotations

import math

from tunewise.core.schema import Plan
from tunewise.eval import pilot_plan
from tunewise.eval.curves import crossing, fit_curve, stable_at
from tunewise.eval.pilot_records import CurveFit, PilotPoint, PilotPrediction, PilotResult, round_labels
from tunewise.eval.pilot_sample import Measured
from tunewise.eval.pilot_train import Training, anchor_of

CURVE_RESAMPLES = 99


def points_with_anchor(measured: Measured, name: str) -> tuple[list[int], list[list[dict]]]:
    """Examples seen and rows per short run, from the untrained anchor (0 examples) when it answered the same
    sample (or a longer prefix of the same stratified order)."""
    anchor = anchor_of(name)
    xs, rows = list(measured.x[name]), list(measured.rows[name])
    if anchor in measured.rows and len(measured.rows[anchor][0]) >= len(rows[0]):
        xs, rows = [0] + xs, [measured.rows[anchor][0][: len(rows[0])]] + rows
    return xs, rows


def predict(plan: Plan, result: PilotResult, measured: Measured, name: str, t: Training | None,
            train_size: int) -> tuple[PilotPrediction, CurveFit | None]:
    """`name`'s predicted main metric at the plan's steps, and the curve fitted on the way (if any)."""
    from tunewise.eval.stats import metric_value

    last = next(p for p in reversed(result.points) if p.approach == name)
    low, high = at_least_wilson(last.value, last.low, last.high, len(measured.rows[name][-1]))
    measured_prediction = PilotPrediction(approach=name, metric=result.metric, value=last.value, low=low,
                                          high=high, basis="measured", at_labels=train_size)
    if t is None:
        return measured_prediction, None
    measured_prediction.at_steps = t.full
    if last.examples_seen == t.full * t.batch:     # the pilot made the plan's own run: nothing to extrapolate
        return measured_prediction, None
    target = t.full * t.batch
    xs, rows = points_with_anchor(measured, name)
    ys = [metric_value(plan.task, r) for r in rows]
    fit = fit_curve(xs, ys)
    stable = stable_at(fit, xs, ys, target)
    curve = None if fit is None else CurveFit(
        approach=name, family=fit.family, params=[round(p, 6) for p in fit.params], rmse=round(fit.rmse, 4),
        stable=stable, holdout_error=None if fit.holdout_error is None else round(fit.holdout_error, 4))
    if not stable:
        # The short runs stopped short of the plan's steps and no curve says where they go: the longest
        # one's score stands and the interval reaches the metric's ceiling (more steps may still raise it a
        # lot). It is a floor, which may lead on the promise of more training, only where training has
        # already lifted the score above the untrained start ("flat" where it has not).
        basis = "last-point" if rises(xs, ys) else "flat"
        return measured_prediction.model_copy(update={"basis": basis, "high": 1.0}), curve
    value = min(1.0, max(0.0, fit.predict(target)))
    low, high = curve_interval(plan, fit, xs, rows, target, value)
    return measured_prediction.model_copy(update={"value": round(value, 4), "low": round(low, 4),
                                                  "high": round(high, 4), "basis": "curve"}), curve


def rises(xs: list[int], ys: list[float]) -> bool:
    """Whether the short runs scored above the untrained anchor (x = 0) on the same sample; True without
    an anchor, when there is nothing to rise from.

    A short run's score leads as a floor on the premise that more training raises it. On the Debian
    package questions (bench/RESULTS.md) RAG + LoRA's short runs scored at or below RAG's (0.256 against
    0.260, 0.248 against 0.250), and the plan's full runs scored lower still (0.218, 0.186): the adapter,
    trained on bare questions, learns to answer from memory. Read as floors they ranked RAG + LoRA first,
    where compare measured RAG best. Not rising early is no proof either way: on the tickets LoRA's
    3-step run scored 0.18 against zero-shot's 0.23 and the plan's run 0.93, so the interval of a run that
    did not rise still reaches the ceiling; it only does not lead."""
    return not xs or xs[0] != 0 or ys[-1] > ys[0]


def at_least_wilson(value: float, low: float, high: float, n: int) -> tuple[float, float]:
    """The bootstrap interval of a score measured on `n` examples, widened to at least the Wilson interval
    of that share of `n` (statsmodels; for F1 scores an approximation). A bootstrap over a perfect
    sample is [1, 1]: on the ticket example few-shot answered all 15 of the pilot's sample right, and 40
    of the 45 in compare (0.888); Wilson's [0.80, 1.00] for 15 of 15 holds the measured score, the
    bootstrap's could not."""
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return low, high
    wilson_low, wilson_high = proportion_confint(round(value * n), n, alpha=0.05, method="wilson")
    return round(min(low, float(wilson_low)), 4), round(max(high, float(wilson_high)), 4)


def curve_interval(plan: Plan, fit, xs, rows, target: float, value: float) -> tuple[float, float]:
    """Bootstrap over the sample (the chosen family refitted on each resample) plus the fit's own error."""
    import warnings

    import numpy as np
    from scipy import stats

    from tunewise.eval.curves import BY_NAME, fit_family
    from tunewise.eval.stats import metric_statistic

    statistics = [metric_statistic(plan.task, r) for r in rows]
    family = BY_NAME[fit.family]

    def refit(idx):
        found = fit_family(family, xs, [s(idx) for s in statistics])
        return float(family.func(float(target), *found[0])) if found else value

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = stats.bootstrap((np.arange(len(rows[-1])),), refit, vectorized=False, paired=True,
                               n_resamples=CURVE_RESAMPLES, method="percentile",
                               random_state=np.random.default_rng(plan.seed))
    low, high = boot.confidence_interval
    own = 1.96 * (fit.prediction_se(target) or 0.0)
    low, high = value - math.hypot(value - low, own), value + math.hypot(high - value, own)
    return max(0.0, low), min(1.0, high)


def apply_limits(p: PilotPrediction, answers, points: list[PilotPoint], t: Training | None) -> None:
    """The user's limits (latency per answer, memory, money) against what the pilot measured of `p`."""
    if answers is None:
        return
    latency, peak = points[-1].latency_ms_p50, max(q.peak_memory_mb for q in points)
    limit_gb = answers.gpu_memory_gb or answers.ram_gb
    if answers.latency_ms is not None and latency > answers.latency_ms:
        p.limit_reasons.append(f"measured {latency:.0f} ms per answer, over the {answers.latency_ms:g} ms limit")
    if peak / 1024 > limit_gb:
        p.limit_reasons.append(f"measured peak {peak / 1024:.1f} GB, over the {limit_gb:g} GB available")
    if t and t.step_s and answers.budget_usd is not None and answers.gpu_hour_usd is not None:
        hours = t.step_s * t.full / 3600
        if hours * answers.gpu_hour_usd > answers.budget_usd:
            p.limit_reasons.append(f"training would cost about ${hours * answers.gpu_hour_usd:.2f}, over "
                                   f"the ${answers.budget_usd:g} budget")
    p.within_limits = not p.limit_reasons


def crossings(curves: list[CurveFit], trainings: dict[str, Training], ranked: list[PilotPrediction],
              train_size: int) -> list[str]:
    """Where a trainable approach's curve is predicted to overtake an in-context one with longer training."""
    from tunewise.eval.curves import Fit

    out = []
    for curve in (c for c in curves if c.stable):
        t = trainings[curve.approach]
        fit = Fit(curve.family, tuple(curve.params), None, curve.rmse, curve.holdout_error)
        target = t.full * t.batch
        for other in (p for p in ranked if p.approach not in trainings):
            at = crossing(fit, other.value, target, target * 100)
            if at is not None:
                out.append(f"{curve.approach} is predicted to overtake {other.approach} after about "
                           f"{round_labels(at):,} training examples seen (steps x batch; the plan trains "
                           f"{target:,}, over {train_size:,} labels).")
    return out


def floor_statements(ranked: list[PilotPrediction], trainings: dict[str, Training], ceiling: float,
                     compare_s: float | None) -> list[str]:
    """For each trainable approach the pilot could only give a floor: the cheapest run that keeps all the
    plan's steps (on fewer examples each, pilot_plan.run_shape), what it costs at the measured step times,
    and against what. Those runs come closest: on the ticket plan LoRA's 40 steps at 1 and 2 examples
    scored 0.70 and 0.85 against the plan's 0.93, where 5 steps at 8 scored 0.31 (bench/RESULTS.md)."""
    out = []
    for p in ranked:
        t = trainings.get(p.approach)
        if p.basis != "last-point" or t is None or not t.step_s or t.shape[0] >= t.full:
            continue
        length = math.ceil(t.full / t.batch)
        steps, batch = pilot_plan.run_shape(length, t.full, t.batch)
        cost = t.run_seconds(length) + t.load_s
        line = (f"{p.approach}'s prediction is a floor: its short run ({t.shape[0]} steps of {t.shape[1]}) is too "
                f"early in training to forecast the plan's {t.full} steps. Runs that keep all the plan's steps "
                f"on fewer examples each come closest; the cheapest, {steps} steps of {batch} "
                f"example{'s' if batch > 1 else ''}, costs about {cost:.0f}s here; this pilot planned "
                f"{ceiling:.0f}s in all")
        if compare_s:
            line += f", and the full compare is estimated at {compare_s:.0f}s"
            if cost > pilot_plan.PILOT_SHARE * compare_s:
                line += f": more than a quarter of it, so `tunewise compare` is the better measurement of {p.approach}"
        out.append(line + ".")
    return out


def flat_statements(plan: Plan, ranked: list[PilotPrediction], measured: Measured,
                    trainings: dict[str, Training]) -> list[str]:
    """For each trainable whose short runs did not rise above its untrained start (basis "flat"): the two
    scores on the same examples, and why it does not lead as a floor would."""
    from tunewise.eval.stats import metric_value

    out = []
    for p in (p for p in ranked if p.basis == "flat"):
        xs, rows = points_with_anchor(measured, p.approach)
        start, last = metric_value(plan.task, rows[0]), metric_value(plan.task, rows[-1])
        t = trainings.get(p.approach)
        run = f" ({t.shape[0]} steps of {t.shape[1]})" if t is not None and t.shape[0] else ""
        steps = f"the plan's {t.full} steps" if t is not None else "more steps"
        out.append(f"{p.approach}'s short run{run} scored {last:.3f}, no higher than {anchor_of(p.approach)}'s "
                   f"{start:.3f} on the same {len(rows[-1])} examples (the same prompts, untrained): training has "
                   f"not raised it so far, so it is ranked by that score, not led as a floor {steps} would "
                   "raise; `compare` measures where they take it.")
    return out


def sample_statements(leader: PilotPrediction, size: int, population: int, result: PilotResult,
                      budget_s: float) -> list[str]:
    """What the sample can tell apart, and how far it may sit from the whole eval set's score."""
    out = [f"A paired sample of {size} examples separates approaches about "
           f"{pilot_plan.detectable_difference(size, leader.value):.2f} apart near {leader.value:.2f}; "
           f"a score on it is within about {pilot_plan.sampling_error(size, population, leader.value):.2f} "
           f"(one standard error) of the score on all {population} eval examples."]
    if result.compare_estimate_seconds and result.planned_seconds < budget_s:
        out.append(f"The pilot planned {result.planned_seconds:.0f}s, a {pilot_plan.PLAN_SHARE:.0%} share "
                   f"of the {result.compare_estimate_seconds:.0f}s the full compare is estimated to take "
                   f"(a pilot costlier than a quarter of it is not worth running).")
    estimate = result.compare_estimate_seconds
    if estimate and result.seconds > pilot_plan.PILOT_SHARE * estimate:
        out.append(f"This pilot took {result.seconds:.0f}s, more than a quarter of the {estimate:.0f}s the full "
                   "compare is estimated to take: loading the model, the smallest sample and timing the "
                   "plan's steps cost that much already, so on a plan this small `tunewise compare` itself is "
                   "the better measurement.")
    return out
