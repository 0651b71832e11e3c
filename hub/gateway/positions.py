"""Positions in a topic: the next offset to deliver per partition, and the token that carries
them to a client and back (SSE ``id:`` / ``Last-Event-ID``, the WebSocket ``resume`` token).

A token is ``<partition>-<offset>`` pairs joined by ``.``, e.g. ``0-124.1-45.2-9``: the
position *after* the event it labels, for every partition, so a client that reconnects
with the last token it saw continues exactly after that event, whichever partition
the next one comes from.
"""

from __future__ import annotations

import re

from hub.errors import TsunaguError

__all__ = ["PositionError", "check_positions", "decode_token", "encode_token"]

_PAIR = re.compile(r"(0|[1-9][0-9]{0,5})-(0|[1-9][0-9]{0,18})")
_MAX_PARTITIONS = 10_000


def encode_token(positions: dict[int, int]) -> str:
    """The token of ``positions`` (partition -> next offset)."""
    return ".".join(f"{p}-{o}" for p, o in sorted(positions.items()))


def decode_token(token: str) -> dict[int, int]:
    """Positions from a token; ValueError saying what is wrong with it."""
    token = token.strip()
    if not token:
        raise ValueError("empty position token")
    positions: dict[int, int] = {}
    for pair in token.split("."):
        match = _PAIR.fullmatch(pair)
        if match is None:
            raise ValueError(f"bad position {pair!r} (expected <partition>-<offset>)")
        partition, offset = int(match[1]), int(match[2])
        if partition in positions:
            raise ValueError(f"partition {partition} appears twice")
        positions[partition] = offset
        if len(positions) > _MAX_PARTITIONS:
            raise ValueError("too many partitions in position token")
    return positions


class PositionError(TsunaguError, ValueError):
    """A well-formed position token that does not fit the topic it is used on."""

    blame = "input"


def check_positions(positions: dict[int, int], ends: dict[int, int]) -> None:
    """Refuse `positions` that name a partition the topic lacks or an offset past a
    partition's end (`ends`: partition -> end offset), with a sentence saying which; a
    token that fits nothing would otherwise give a stream that never delivers anything."""
    unknown = sorted(set(positions) - set(ends))
    if unknown:
        have = f"partitions 0-{max(ends)}" if ends else "no partitions"
        raise PositionError(
            f"the topic has {have}; the token names partition {unknown[0]}"
            " (a token from another topic?)"
        )
    for partition, offset in sorted(positions.items()):
        end = ends[partition]
        if offset > end:
            raise PositionError(
                f"partition {partition} ends at offset {end}; the token asks for {offset}"
                " (a token from another topic, or from before the log was reset?)"
            )
