"""Parsing GTFS cell values: each parser raises ValueError with a message for people."""

from __future__ import annotations

__all__ = ["ACCESSIBILITY", "LOCATION_TYPES", "PICKUP_DROP_OFF", "gtfs_time", "opt_float"]

LOCATION_TYPES = ("STOP", "STATION", "ENTRANCE_EXIT", "GENERIC_NODE", "BOARDING_AREA")
ACCESSIBILITY = ("NO_INFO", "ACCESSIBLE", "NOT_ACCESSIBLE")
PICKUP_DROP_OFF = ("REGULAR", "NONE", "PHONE_AGENCY", "COORDINATE_WITH_DRIVER")


def gtfs_time(text: str) -> int:
    """``H:MM:SS`` or ``HH:MM:SS`` (hours may pass 24) -> seconds after the day's start."""
    hours, _, rest = text.partition(":")
    minutes, _, seconds = rest.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and seconds.isdigit()):
        raise ValueError(f"time {text!r} is not HH:MM:SS")
    m, s = int(minutes), int(seconds)
    if m > 59 or s > 59 or len(minutes) != 2 or len(seconds) != 2:
        raise ValueError(f"time {text!r} is not HH:MM:SS")
    return int(hours) * 3600 + m * 60 + s


def opt_time(text: str) -> int | None:
    return gtfs_time(text) if text else None


def opt_int(text: str) -> int | None:
    return int(text) if text else None


def opt_float(text: str) -> float | None:
    return float(text) if text else None


def code(text: str, symbols: tuple[str, ...], column: str) -> str:
    """A GTFS enumeration cell (``0``, ``1``...) -> its schema symbol; empty is the first."""
    if not text:
        return symbols[0]
    if text.isdigit() and int(text) < len(symbols):
        return symbols[int(text)]
    raise ValueError(f"{column} {text!r} is not one of 0-{len(symbols) - 1}")


def date(text: str) -> str:
    """A GTFS ``YYYYMMDD`` date (kept as text: it is a service day, not an instant)."""
    if len(text) != 8 or not text.isdigit() or not ("01" <= text[4:6] <= "12"):
        raise ValueError(f"date {text!r} is not YYYYMMDD")
    return text
