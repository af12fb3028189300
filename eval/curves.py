"""Learning curves: a score (0-1, higher is better) as a function of the number of labelled examples,
fitted with scipy.optimize.curve_fit over a few families and extrapolated to the full data.

Families (x = labelled examples the model was trained on):
  rectified-power  a - b / (d + x^c)         Lin et al. (ICML 2024): the term d is the data the model
                                             already "knows", which gives the flat pre-power phase at small x
  pow4             a - b (x + d)^-c          saturating power law (Viering & Loog 2022; LCDB's POW4)
  mmf4             (a b + c x^d) / (b + x^d) Morgan-Mercer-Flodin: starts at a, saturates at c
  pow3             a - b (x + 1)^-c          the three-parameter power law, for few points
The family is chosen by fit quality: the worse of the in-sample RMSE and the error predicting the last
point from the others (extrapolation is what the curve is for). An unstable fit (failed, outside 0-1,
or a jump from the last observation larger than the curve's own range) falls back to the last point.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence


def rectified_power(x, a, b, c, d):
    return a - b / (d + x ** c)


def pow4(x, a, b, c, d):
    return a - b * (x + d) ** (-c)


def mmf4(x, a, b, c, d):
    return (a * b + c * x ** d) / (b + x ** d)


def pow3(x, a, b, c):
    return a - b * (x + 1) ** (-c)


@dataclass(frozen=True)
class Family:
    name: str
    func: Callable
    start: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]

    @property
    def params(self) -> int:
        return len(self.start)


FAMILIES = (
    Family("rectified-power", rectified_power, (0.9, 5.0, 0.7, 5.0), (0, 0, 0.05, 1e-3), (1, 1e4, 3, 1e4)),
    Family("pow4", pow4, (0.9, 1.0, 0.5, 1.0), (0, 0, 0.01, 0.1), (1, 1e3, 3, 1e4)),
    Family("mmf4", mmf4, (0.3, 10.0, 0.9, 1.0), (0, 1e-3, 0, 0.05), (1, 1e6, 1, 5)),
    Family("pow3", pow3, (0.9, 0.6, 0.5), (0, 0, 0.01), (1, 10, 3)),
)
BY_NAME = {f.name: f for f in FAMILIES}


@dataclass(frozen=True)
class Fit:
    family: str
    params: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...] | None   # None where curve_fit could not estimate it
    rmse: float
    holdout_error: float | None                        # |error| predicting the last point from the others

    @property
    def quality(self) -> float:
        return max(self.rmse, self.holdout_error if self.holdout_error is not None else self.rmse)

    def predict(self, x: float) -> float:
        return float(BY_NAME[self.family].func(float(x), *self.params))

    def prediction_se(self, x: float) -> float | None:
        """Delta-method standard error of the curve at x from the fit's covariance (None if unknown)."""
        import numpy as np

        if self.covariance is None:
            return None
        func, params = BY_NAME[self.family].func, np.array(self.params)
        grad = np.zeros(len(params))
        for i in range(len(params)):
            step = 1e-6 * max(1.0, abs(params[i]))
            bumped = params.copy()
            bumped[i] += step
            grad[i] = (func(float(x), *bumped) - func(float(x), *params)) / step
        variance = float(grad @ np.array(self.covariance) @ grad)
        return math.sqrt(variance) if variance >= 0 and math.isfinite(variance) else None


def fit_family(family: Family, x: Sequence[float], y: Sequence[float]):
    """(params, covariance or None) of one family by bounded least squares; None if the fit fails."""
    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            params, cov = curve_fit(family.func, np.asarray(x, float), np.asarray(y, float), p0=family.start,
                                    bounds=(family.lower, family.upper), method="trf", maxfev=5000)
    except (RuntimeError, ValueError):
        return None
    finite = np.all(np.isfinite(cov))
    return tuple(float(p) for p in params), (tuple(map(tuple, cov.tolist())) if finite else None)


def fit_curve(x: Sequence[float], y: Sequence[float], families: Sequence[Family] = FAMILIES) -> Fit | None:
    """The best-fitting family for points (x, y), or None when no family can be fitted (fewer than 3 points)."""
    import numpy as np

    fits = []
    for family in families:
        if len(x) < 3 or len(x) < family.params:
            continue
        found = fit_family(family, x, y)
        if found is None:
            continue
        params, cov = found
        residual = np.asarray(y) - family.func(np.asarray(x, float), *params)
        holdout = None
        if len(x) - 1 >= min(3, family.params):
            earlier = fit_family(family, x[:-1], y[:-1])
            if earlier is not None:
                holdout = abs(float(family.func(float(x[-1]), *earlier[0])) - float(y[-1]))
        fits.append(Fit(family.name, params, cov, float(np.sqrt(np.mean(residual ** 2))), holdout))
    return min(fits, key=lambda f: f.quality) if fits else None


def stable_at(fit: Fit | None, x: Sequence[float], y: Sequence[float], target: float) -> bool:
    """Whether the curve may be trusted at `target`: it exists, stays in 0-1, and does not leap further
    from the last observation than the observations themselves span (ill-behaved curves are common)."""
    if fit is None:
        return False
    value = fit.predict(target)
    if not (0.0 <= value <= 1.0) or not math.isfinite(value):
        return False
    span = max(y) - min(y)
    return abs(value - y[-1]) <= max(span, 0.05) and fit.quality <= max(0.1, span / 2)


def crossing(fit: Fit, level: float, start: float, limit: float) -> float | None:
    """The smallest x in (start, limit] where the curve reaches `level`, on a geometric grid (None if never)."""
    import numpy as np

    if fit.predict(start) >= level:
        return None
    for x in np.geomspace(max(start, 1.0), limit, 400):
        if fit.predict(x) >= level:
            return float(x)
    return None
