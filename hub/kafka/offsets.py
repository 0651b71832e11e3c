"""Finding offsets by time when the broker's answer cannot be taken on trust.

ListOffsets by timestamp should answer the first offset whose record is at or after the
time; the embedded broker (tansu 0.6) answers the partition's first offset whatever the
time. The answer is cheap to check with the two records around it, so each backend checks
it, and only a wrong one costs a binary search over the partition (one small fetch per
step). Pure logic over a ``record_at`` probe, so both backends share it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["RecordAt", "first_offset_at_or_after"]

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
