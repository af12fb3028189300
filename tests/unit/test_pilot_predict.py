"""A score measured on the pilot's sample: its interval is never narrower than Wilson's for that share."""
import pytest

from tunewise.eval.pilot_predict import at_least_wilson


def test_a_perfect_sample_still_has_an_interval():
    low, high = at_least_wilson(1.0, 1.0, 1.0, 15)          # a bootstrap over 15 of 15 right is [1, 1]
    assert low == pytest.approx(0.7961, abs=1e-3) and high == 1.0
    assert low < 0.888                                       # holds what all 45 eval messages measured


def test_a_wider_bootstrap_interval_is_kept():
    assert at_least_wilson(0.5, 0.1, 0.95, 40) == (0.1, 0.95)
    low, high = at_least_wilson(0.5, 0.45, 0.55, 40)
    assert low == pytest.approx(0.3520, abs=1e-3) and high == pytest.approx(0.6480, abs=1e-3)
