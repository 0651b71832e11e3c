"""Parsing the human units of the access commands: durations (``30d``) and rates (``600/min``)."""

from __future__ import annotations

import re

__all__ = ["parse_duration_ms", "parse_rate_per_minute"]

_DURATION = re.compile(r"(\d+)\s*(s|m|min|h|d|w)")
_DURATION_MS = {
    "s": 1_000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)")
_PER_MINUTE = {
    "s": 60.0,
    "sec": 60.0,
    "second": 60.0,
    "m": 1.0,
    "min": 1.0,
    "minute": 1.0,
    "h": 1 / 60,
    "hour": 1 / 60,
}


def parse_duration_ms(text: str) -> int:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` -> milliseconds; ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 15m or 90s")
    return int(match.group(1)) * _DURATION_MS[match.group(2)]


def parse_rate_per_minute(text: str) -> float:
    """``600/min``, ``10/s``, ``1000/h`` -> requests per minute; ValueError otherwise."""
    match = _RATE.fullmatch(text.strip().lower())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a rate like 600/min, 10/s or 1000/h")
    return float(match.group(1)) * _PER_MINUTE[match.group(2)]
