"""Numbers as people read them: rounded, with their unit, never in scientific notation.

The terminal tables (cli) and the reports (eval) both write quantities through these, so "3.2 h",
"$0.0042" and "1.04 GB" read the same everywhere; `--json` and results.json keep the raw values.
"""
from __future__ import annotations

import math


def number(value: float, digits: int = 3) -> str:
    """`digits` significant digits, thousands separated: 0.00299 -> 0.003, 4510.2 -> 4,510."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{round(value, decimals):,.{decimals}f}"


def duration(seconds: float) -> str:
    """12 ms, 4.5 s, 12 min, 3.2 h, 4.1 d."""
    if seconds == 0:
        return "0 s"
    for unit, size, upper in (("ms", 0.001, 1), ("s", 1, 60), ("min", 60, 3600), ("h", 3600, 2 * 86400)):
        if abs(seconds) < upper:
            return f"{_short(seconds / size)} {unit}"
    return f"{_short(seconds / 86400)} d"


def usd(value: float) -> str:
    """$1,200, $3.40, $0.0042: cents for amounts from a dollar, two significant digits below."""
    if abs(value) >= 1 or value == 0:
        return f"${value:,.2f}" if abs(value) < 1000 else f"${value:,.0f}"
    return "$" + number(value, 2)


def megabytes(mb: float) -> str:
    """MB below a gigabyte, GB from there."""
    return f"{number(mb / 1024)} GB" if mb >= 1024 else f"{number(mb)} MB"


def _short(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 10 else f"{value:,.0f}"
