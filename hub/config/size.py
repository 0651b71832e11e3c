"""Sizes in bytes as people write them in topics.yaml ("64MiB", "500 kB", or a plain number).

`parse_size` reads them (a setting pairs it with its range from hub.config.bounds);
`format_size` writes them back.
"""

from __future__ import annotations

import re

__all__ = ["format_size", "parse_size"]

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_HINT = "use e.g. 64MiB, 512KiB, 1GiB, 500kB or a number of bytes"


def parse_size(value: object) -> int:
    """Turn "64MiB", "512 KiB", "1GiB", "500kB", "10MB" or a number into a positive number
    of bytes; ValueError with a hint otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, str):
        match = _SIZE.fullmatch(value.strip().lower())
        if match is None or match.group(2) not in _UNITS:
            raise ValueError(f"{value!r} is not a size: {_HINT}")
        result = int(float(match.group(1)) * _UNITS[match.group(2)])
    else:
        # ValueError, not TypeError: pydantic turns only ValueError into a located problem.
        raise ValueError(f"{value!r} is not a size: {_HINT}")  # noqa: TRY004
    if result <= 0:
        raise ValueError(f"size must be positive (got {value!r})")
    return result


def format_size(value: int) -> str:
    """``value`` in the largest binary unit that divides it ("67108864" -> "64MiB")."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}B"
