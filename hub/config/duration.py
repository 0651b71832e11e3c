"""Durations as people write them in topics.yaml ("30s", "7d", "PT30S" or plain seconds).

`Duration` is a pydantic-ready `timedelta`; `parse_duration` is the plain function behind it.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["MAX_DURATION", "Duration", "format_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d|w)")
_COMPACT = re.compile(rf"(?:{_NUMBER}(?:ms|s|m|h|d|w))+")
_ISO = re.compile(
    rf"P(?:(?P<w>{_NUMBER})W)?(?:(?P<d>{_NUMBER})D)?"
    rf"(?:T(?:(?P<h>{_NUMBER})H)?(?:(?P<m>{_NUMBER})M)?(?:(?P<s>{_NUMBER})S)?)?"
)
_ISO_CALENDAR = re.compile(r"P(?:[^T]*[YM])")
_HINT = "use e.g. 500ms, 30s, 5m, 2h, 7d, 1w, 1h30m, PT30S, P7D or a number of seconds"


#: The longest duration read: a century keeps any date arithmetic far from datetime's
#: year 9999 and any count of milliseconds inside Kafka's 64-bit settings.
MAX_DURATION = timedelta(days=36_525)


def parse_duration(value: object) -> timedelta:
    """Turn "500ms", "30s", "5m", "2h", "7d", "1w", "1h30m", ISO 8601 ("PT30S", "P7D") or a
    number of seconds into a positive timedelta of at most MAX_DURATION; ValueError with a
    hint otherwise."""
    try:
        if isinstance(value, timedelta):
            result = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"{value!r} is not a duration: {_HINT}")
            result = timedelta(seconds=value)
        elif isinstance(value, str):
            result = _parse_text(value.strip())
        else:
            # ValueError, not TypeError: pydantic turns only ValueError into a located problem.
            raise ValueError(f"{value!r} is not a duration: {_HINT}")  # noqa: TRY004
    except OverflowError:
        # timedelta's own limit (about 2.7 million years) is far past ours anyway.
        raise ValueError(_too_long(value)) from None
    if result <= timedelta(0):
        raise ValueError(f"duration must be positive (got {value!r})")
    if result > MAX_DURATION:
        raise ValueError(_too_long(value))
    return result


def _too_long(value: object) -> str:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"duration {shown} is too long (at most 100 years)"


def format_duration(value: timedelta) -> str:
    """The shortest compact form of `value` that parse_duration reads back ("90s" -> "1m30s")."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s", "ms"):
        size = round(_UNITS[unit] * 1000)
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _parse_text(text: str) -> timedelta:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    if _COMPACT.fullmatch(text):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        return timedelta(seconds=seconds)
    upper = text.upper()
    match = _ISO.fullmatch(upper)
    if match and upper not in {"P", "PT"} and not upper.endswith("T"):
        w, d, h, m, s = (float(match.group(g) or 0) for g in "wdhms")
        return timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)
    if _ISO_CALENDAR.match(upper):
        raise ValueError(
            f"{text!r}: years and months have no fixed length; give days or weeks (e.g. P30D)"
        )
    raise ValueError(f"{text!r} is not a duration: {_HINT}")


#: A positive `timedelta` that accepts every form parse_duration reads.
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
