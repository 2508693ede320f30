"""Parameter checks shared by the degradations, with messages that say what to pass instead.

Every check runs before anything is allocated: one message names the parameter, the value given
and the range allowed, so ``sigma=1e9`` is a one-line refusal, not a 24 GB kernel.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import InvalidInputError

__all__ = ["check_number", "check_odd_int", "check_int", "check_choice", "check_bool"]


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite float within ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    if not _is_number(value) or not math.isfinite(value):
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


def check_int(name: str, value: Any, *, low: int, high: int, hint: str = "") -> int:
    """``value`` as an int within ``[low, high]`` (a float with an integral value is accepted)."""
    if _is_number(value) and math.isfinite(value) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an int in [{low}, {high}], got {value!r}{hint}")
    return value


def check_odd_int(name: str, value: Any, *, minimum: int = 3, maximum: int | None = None, hint: str = "") -> int:
    """``value`` as an odd int within ``[minimum, maximum]``."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value % 2 == 1 and value >= minimum
    if ok and maximum is not None and value > maximum:
        ok = False
    if not ok:
        what = f"an odd int in [{minimum}, {maximum}]" if maximum is not None else f"an odd int >= {minimum}"
        raise InvalidInputError(f"{name} must be {what}, got {value!r}{hint}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be true or false, got {value!r}")
    return value
