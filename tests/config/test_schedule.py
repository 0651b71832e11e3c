"""When a feed runs next: ``Feed.next_run_in_s``, the one place the runner asks."""

from __future__ import annotations

from typing import Any

import pytest

from hub.config import Feed


def _feed(schedule: dict[str, Any] | None) -> Feed:
    return Feed.model_validate(
        {"adapter": "gbfs", "url": "https://example.jp/gbfs.json", "topic": "t"}
        | ({} if schedule is None else {"schedule": schedule})
    )


@pytest.mark.parametrize(
    ("schedule", "source_ttl_s", "expected"),
    [
        (None, None, 60.0),  # no schedule: every minute
        (None, 5.0, 60.0),  # ... whatever the source says
        ({"interval": "30s"}, 1.0, 30.0),  # a fixed interval ignores the source's TTL
        ({"ttl": "source"}, None, 10.0),  # no TTL given yet: the lower bound
        ({"ttl": "source"}, 42.0, 42.0),
        ({"ttl": "source"}, 1.0, 10.0),  # kept within the default bounds (10 s to 10 min)
        ({"ttl": "source"}, 3600.0, 600.0),
        ({"ttl": "source", "min_interval": "1s", "max_interval": "1m"}, 0.5, 1.0),
        ({"ttl": "source", "min_interval": "1s", "max_interval": "1m"}, 90.0, 60.0),
    ],
)
def test_next_run(
    schedule: dict[str, Any] | None, source_ttl_s: float | None, expected: float
) -> None:
    assert _feed(schedule).next_run_in_s(source_ttl_s) == expected
