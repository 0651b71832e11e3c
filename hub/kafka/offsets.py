"""Where a partition ends and where a time falls in it, when the broker's answers cannot be
taken on trust: the logic both backends share, over small probes each backend supplies.

Ends: ListOffsets(LATEST) alone is not enough: the embedded broker (tansu 0.6) answers it
with one past the first offset of the partition's last batch (1 for 650 records sent as
one batch). Every broker gets the high watermark of its fetch responses right, so
`measured_ends` takes ListOffsets as a hint and fetches once from just before it: from the
last batch on tansu, from the end on Kafka (an empty answer carrying the high watermark).
Backends measure with a fresh client each time, so a high watermark cached from an earlier
fetch can never stand in for the one measured now.

Times:

ListOffsets by timestamp should answer the first offset whose record is at or after the
time; the embedded broker (tansu 0.6) answers the partition's first offset whatever the
time. The answer is cheap to check with the two records around it, so each backend checks
it, and only a wrong one costs a binary search over the partition (one small fetch per
step). Pure logic over a ``record_at`` probe, so both backends share it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

__all__ = [
    "MEASURE_TIMEOUT_S",
    "EndProbe",
    "RecordAt",
    "first_offset_at_or_after",
    "measured_ends",
    "offsets_at",
]

#: How long a measurement waits for the fetch responses that carry the high watermarks.
MEASURE_TIMEOUT_S = 10.0


class EndProbe(Protocol):
    """A backend's fresh measuring client of one topic (blocking calls)."""

    def listed(self, partitions: Sequence[int]) -> dict[int, tuple[int, int]]:
        """Per partition, the broker's ListOffsets answer: (earliest, latest)."""
        ...

    def fetch_from(self, positions: Mapping[int, int]) -> None:
        """Read partition p from offset positions[p]."""

    def poll(self) -> None:
        """Fetch once; the records are not wanted, only the responses."""

    def high_watermark(self, partition: int) -> int | None:
        """The high watermark of the last fetch response for ``partition``; None before one
        has arrived."""
        ...


def measured_ends(
    probe: EndProbe, partitions: Sequence[int], timeout_s: float = MEASURE_TIMEOUT_S
) -> dict[int, tuple[int, int]]:
    """Per partition, (first retained offset, end offset): ListOffsets as the hint, one fetch
    from just before it for the high watermark every broker gets right."""
    hints = probe.listed(partitions)
    probe.fetch_from({p: max(low, high - 1) for p, (low, high) in hints.items()})
    ends: dict[int, tuple[int, int]] = {}
    deadline = time.monotonic() + timeout_s
    while len(ends) < len(hints) and time.monotonic() < deadline:
        probe.poll()
        for p, (low, high) in hints.items():
            if p in ends:
                continue
            fetched = probe.high_watermark(p)
            if fetched is not None:  # a fetch response for p has arrived
                ends[p] = (low, max(high, fetched))
    # A partition whose fetch never answered keeps the broker's ListOffsets figure.
    return {p: ends.get(p, hints[p]) for p in partitions}


def offsets_at(
    record_at: Callable[[int], RecordAt],
    timestamp_ms: int,
    marks: Mapping[int, tuple[int, int]],
    hints: Mapping[int, int],
) -> dict[int, int]:
    """Per partition of ``marks`` ((first, end) offsets), the first offset at or after
    ``timestamp_ms``: the broker's answer (``hints``) checked, searched for when wrong;
    ``record_at(p)`` is the backend's probe of partition p."""
    return {
        p: first_offset_at_or_after(record_at(p), low, end, timestamp_ms, hints.get(p))
        for p, (low, end) in marks.items()
    }


#: (offset) -> (offset, timestamp_ms) of the first record at or after ``offset``, or None
#: when the partition has none before its end.
RecordAt = Callable[[int], tuple[int, int] | None]


def first_offset_at_or_after(
    record_at: RecordAt, low: int, end: int, timestamp_ms: int, hint: int | None
) -> int:
    """Where to start reading a partition holding offsets [low, end) to get every record
    whose timestamp is at or after ``timestamp_ms`` (``end`` when none is)."""
    if end <= low:
        return end
    if hint is not None and low <= hint <= end and _right(record_at, low, end, timestamp_ms, hint):
        return hint
    lo, hi = low, end
    while lo < hi:
        mid = (lo + hi) // 2
        found = record_at(mid)
        if found is None or found[1] >= timestamp_ms:
            # Starting at mid reads nothing older: the records between mid and the one
            # found were removed (compaction), so mid starts where that record does.
            hi = mid
        else:
            lo = found[0] + 1
    return lo


def _right(record_at: RecordAt, low: int, end: int, timestamp_ms: int, hint: int) -> bool:
    """True when ``hint`` starts at a record not older than the time (or at the end) and the
    record before it, if any, is older."""
    if hint < end:
        at = record_at(hint)
        if at is not None and at[1] < timestamp_ms:
            return False
    if hint == low:
        return True
    before = record_at(hint - 1)
    # A record before hint exists only if the one found lies before hint.
    return before is None or before[0] >= hint or before[1] < timestamp_ms
