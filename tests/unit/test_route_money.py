"""Money per answer for routing (eval/route_money.py), on hand-written runs with hand-computed values."""
import json

import numpy as np
import pytest

from tunewise.core.schema import Prices
from tunewise.eval.route_money import answer_money, feature_money

LOCAL_MS = [100.0, 300.0]
API_TOKENS = [(1000, 100), (500, 20)]


def run_dir(tmp_path, device: str | None = "cpu", completion: bool = True):
    (tmp_path / "approaches").mkdir()
    (tmp_path / "approaches" / "zero-shot.json").write_text(json.dumps({"device": device} if device else {}))
    rows = {"zero-shot": [{"latency_ms": ms} for ms in LOCAL_MS],
            "api-zero-shot": [{"latency_ms": 900.0, "prompt_tokens": p, **({"completion_tokens": c} if completion else {})}
                              for p, c in API_TOKENS]}
    cost = np.array([[ms, 900.0] for ms in LOCAL_MS])
    return tmp_path, rows, cost


def money(tmp_path, prices: dict, **kwargs):
    folder, rows, cost = run_dir(tmp_path, **kwargs)
    return answer_money(folder, Prices(**prices), ["zero-shot", "api-zero-shot"], rows, cost)


FULL = {"cpu_hour_usd": 0.36, "input_token_usd_per_1m": 2.0, "output_token_usd_per_1m": 8.0}


def test_local_latency_at_the_hour_price_and_api_tokens_at_the_token_prices(tmp_path):
    """$0.36 an hour is $1e-7 a millisecond: 100 ms cost $0.00001. The API answer with 1,000 prompt and 100
    completion tokens costs 1000 x 2/1e6 + 100 x 8/1e6 = $0.0028; 500 and 20 tokens $0.00116."""
    result = money(tmp_path, FULL)
    assert result.known
    assert result.usd[:, 0] == pytest.approx([1e-5, 3e-5])
    assert result.usd[:, 1] == pytest.approx([0.0028, 0.00116])
    assert "api-zero-shot at $2 / $8 per 1M prompt / completion tokens" in result.note
    features = feature_money(result, Prices(**FULL), [10.0, 20.0], "cpu")
    assert features.usd == pytest.approx([1e-6, 2e-6])


def test_a_gpu_run_is_priced_at_the_gpu_hour(tmp_path):
    result = money(tmp_path, {**FULL, "gpu_hour_usd": 3.6}, device="cuda")
    assert result.usd[:, 0] == pytest.approx([1e-4, 3e-4])       # $3.60 an hour: $1e-6 a millisecond


@pytest.mark.parametrize("prices, kwargs, why", [
    ({}, {}, "the plan gives no prices"),
    ({"gpu_hour_usd": 2.0, "input_token_usd_per_1m": 2.0, "output_token_usd_per_1m": 8.0}, {},
     "zero-shot ran on the cpu and the plan gives no cpu_hour_usd"),
    ({"cpu_hour_usd": 0.36}, {}, "api-zero-shot is an API model and the plan gives no input_token_usd_per_1m"),
    (FULL, {"device": None}, "approaches/zero-shot.json does not record the device it ran on"),
    (FULL, {"completion": False}, "predictions/api-zero-shot.jsonl does not record prompt and completion tokens"),
])
def test_money_is_unknown_rather_than_guessed(tmp_path, prices, kwargs, why):
    result = money(tmp_path, prices, **kwargs)
    assert not result.known and result.note.startswith("Money per answer is unknown: " + why)
    assert not feature_money(result, Prices(**prices), [1.0, 1.0], "cpu").known


def test_the_features_need_the_price_of_the_device_they_ran_on(tmp_path):
    result = money(tmp_path, FULL)
    features = feature_money(result, Prices(**FULL), [1.0, 1.0], "cuda")
    assert not features.known and features.note.endswith("the plan gives no gpu_hour_usd")
