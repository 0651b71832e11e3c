"""Bounds for the numbers of topics.yaml, so `validate` refuses what would break `up`.

Every numeric setting carries its range in its type: a whole number between two limits
(`Annotated[int, Between(1, 10_000)]`) or a duration between two
(`Annotated[timedelta, DurationBetween(timedelta(seconds=1), timedelta(days=30))]`). A
value out of range is a located problem; it never reaches Kafka or the clock as an
OverflowError. New settings take one of these rather than a bare int or Duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from hub.config.duration import format_duration, parse_duration

__all__ = ["Between", "DurationBetween"]


@dataclass(frozen=True)
class Between:
    """A whole number from `low` to `high` inclusive; true/false and 3.5 are refused (YAML
    reads `true` as a boolean, which pydantic would otherwise take as 1)."""

    low: int
    high: int

    def __get_pydantic_core_schema__(
        self, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.int_schema(ge=self.low, le=self.high, strict=True)


@dataclass(frozen=True)
class DurationBetween:
    """A duration (any form parse_duration reads) from `low` to `high` inclusive."""

    low: timedelta
    high: timedelta

    def __get_pydantic_core_schema__(
        self, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self._validate)

    def _validate(self, value: object) -> timedelta:
        duration = parse_duration(value)
        if duration < self.low:
            shown = _show(duration) if duration >= timedelta(milliseconds=1) else value
            raise ValueError(f"must be at least {_show(self.low)} (got {shown})")
        if duration > self.high:
            raise ValueError(f"must be at most {_show(self.high)} (got {_show(duration)})")
        return duration


def _show(value: timedelta) -> str:
    # Limits are set in days ("30d" reads better than format_duration's "4w2d").
    if value >= timedelta(days=1) and value % timedelta(days=1) == timedelta(0):
        return f"{value.days}d"
    return format_duration(value)
