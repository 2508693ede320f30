"""Parameter checks shared by the degradations, with messages that say what to pass instead."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InvalidInputError

__all__ = ["check_number", "check_odd_int", "check_choice"]


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite float within ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}{hint}")
    v = float(value)
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and v > high
    if too_low or too_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open else '['}{lo}, {hi}]"
        raise InvalidInputError(f"{name} must lie in {interval}, got {value!r}{hint}")
    return v


def check_odd_int(name: str, value: Any, *, minimum: int = 3, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value % 2 == 0:
        raise InvalidInputError(f"{name} must be an odd int >= {minimum}, got {value!r}{hint}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {choices}, got {value!r}")
    return value
