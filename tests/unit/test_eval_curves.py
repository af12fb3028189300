"""Learning-curve fits recover the parameters behind synthetic points and refuse to extrapolate wildly."""
import numpy as np
import pytest

from tunewise.eval.curves import BY_NAME, FAMILIES, crossing, fit_curve, fit_family, pow3, rectified_power, stable_at

X = np.array([0, 5, 10, 20, 40, 80, 160, 320], dtype=float)


@pytest.mark.parametrize("name, truth", [("pow3", (0.92, 0.6, 0.45)), ("rectified-power", (0.9, 6.0, 0.8, 8.0)),
                                         ("pow4", (0.85, 1.5, 0.6, 3.0)), ("mmf4", (0.2, 40.0, 0.9, 1.2))])
def test_each_family_recovers_known_parameters(name, truth):
    family = BY_NAME[name]
    params, cov = fit_family(family, X, family.func(X, *truth))
    assert params == pytest.approx(truth, rel=1e-3, abs=1e-4)


def test_the_chosen_curve_predicts_beyond_the_points_with_a_small_error():
    truth = (0.9, 6.0, 0.8, 8.0)
    y = rectified_power(X[:6], *truth) + np.array([0.004, -0.003, 0.002, -0.004, 0.003, -0.002])
    fit = fit_curve(X[:6], y)
    assert fit is not None and fit.rmse < 0.01
    assert fit.predict(320) == pytest.approx(rectified_power(320.0, *truth), abs=0.02)
    assert stable_at(fit, X[:6], y, 320)
    se = fit.prediction_se(320)
    assert se is None or 0 <= se < 0.2


def test_too_few_points_and_wild_fits_fall_back():
    assert fit_curve([0, 10], [0.3, 0.5]) is None
    assert not stable_at(None, [0, 10], [0.3, 0.5], 100)
    fit = fit_curve([0, 5, 10], [0.2, 0.25, 0.9])        # a jump the curve would carry on far past 1
    assert fit is None or not stable_at(fit, [0, 5, 10], [0.2, 0.25, 0.9], 1000) or fit.predict(1000) <= 1


def test_crossing_finds_where_a_curve_overtakes_a_level():
    fit = fit_curve(X, pow3(X, 0.92, 0.6, 0.45))
    assert fit.family in {f.name for f in FAMILIES}
    x = crossing(fit, 0.85, 20, 1e5)
    expected = (0.6 / (0.92 - 0.85)) ** (1 / 0.45) - 1      # solve pow3(x) = 0.85
    assert x == pytest.approx(expected, rel=0.05)
    assert crossing(fit, 0.99, 20, 1e5) is None
