"""Money per answer for routing, from the plan's prices: a local approach's measured latency at the hour
price of the device it ran on, an API approach's prompt and completion tokens at the token prices.
When a price or a count that a number needs is missing, money is unknown and the note says which:
no price is ever assumed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tunewise.core import registry
from tunewise.core.files import read_json
from tunewise.core.schema import Prices

MS_PER_HOUR = 3.6e6
UNKNOWN = "Money per answer is unknown: "


@dataclass
class Money:
    """USD per example and route (n x routes, None when unknown) and how it was priced, or why not."""

    usd: Any
    note: str

    @property
    def known(self) -> bool:
        return self.usd is not None


def hour_price(prices: Prices, device: str) -> float | None:
    return prices.gpu_hour_usd if device == "cuda" else prices.cpu_hour_usd


def _price_key(device: str) -> str:
    return "gpu_hour_usd" if device == "cuda" else "cpu_hour_usd"


def answer_money(run_dir: Path, prices: Prices, names: Sequence[str], rows: dict[str, list[dict]],
                 cost_ms) -> Money:
    """Each example's answer in USD on each route, or the first reason it cannot be priced."""
    import numpy as np

    if not any(prices.model_dump().values()):
        return Money(None, UNKNOWN + "the plan gives no prices (plan key `prices`: cpu_hour_usd, gpu_hour_usd, "
                           "input_token_usd_per_1m, output_token_usd_per_1m)")
    columns, how = [], []
    for a, name in enumerate(names):
        if registry.split_api(name)[1]:
            column, why = _api_usd(prices, name, rows[name])
        else:
            column, why = _local_usd(run_dir, prices, name, cost_ms[:, a])
        if column is None:
            return Money(None, UNKNOWN + why)
        columns.append(column)
        how.append(why)
    return Money(np.column_stack(columns), "Money per answer from the plan's prices: " + "; ".join(how))


def _local_usd(run_dir: Path, prices: Prices, name: str, latency_ms) -> tuple[Any, str]:
    device = read_json(run_dir / "approaches" / f"{name}.json").get("device")
    if device is None:
        return None, f"approaches/{name}.json does not record the device it ran on (a run older than this)"
    hour = hour_price(prices, device)
    if hour is None:
        return None, f"{name} ran on the {device} and the plan gives no {_price_key(device)}"
    return latency_ms / MS_PER_HOUR * hour, f"{name} at ${hour:g} per {device} hour"


def _api_usd(prices: Prices, name: str, rows: list[dict]) -> tuple[Any, str]:
    import numpy as np

    if prices.input_token_usd_per_1m is None or prices.output_token_usd_per_1m is None:
        return None, f"{name} is an API model and the plan gives no input_token_usd_per_1m and output_token_usd_per_1m"
    if any(r.get("prompt_tokens") is None or r.get("completion_tokens") is None for r in rows):
        return None, f"predictions/{name}.jsonl does not record prompt and completion tokens (a run older than this)"
    usd = np.array([prices.tokens_usd(r["prompt_tokens"], r["completion_tokens"]) for r in rows], dtype=float)
    return usd, (f"{name} at ${prices.input_token_usd_per_1m:g} / ${prices.output_token_usd_per_1m:g} per 1M "
                 "prompt / completion tokens")


def feature_money(money: Money, prices: Prices, feature_ms, device: str) -> Money:
    """What computing the features costs per example, on the device `route train` measured them on."""
    if not money.known:
        return money
    hour = hour_price(prices, device)
    if hour is None:
        return Money(None, UNKNOWN + f"the router's features run on the {device} and the plan gives no "
                                     f"{_price_key(device)}")
    import numpy as np

    return Money(np.asarray(feature_ms, dtype=float) / MS_PER_HOUR * hour,
                 money.note + f"; the router's features at ${hour:g} per {device} hour")
