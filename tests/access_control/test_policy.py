"""The pure parts: the access decision, glob matching, token buckets and unit parsing."""

from __future__ import annotations

import pytest

from hub.access import Grant, KeyInfo, RateLimiter, authorize
from hub.access.policy import topic_matches
from hub.access.units import parse_duration_ms, parse_rate_per_minute

NOW = 1_700_000_000_000
TOPIC = "kaga.mobility.vehicle-positions.v1"


def key(*grants: Grant, revoked: bool = False) -> KeyInfo:
    return KeyInfo("tk_0123456789abcdef", "maas", NOW - 1, NOW if revoked else None, None, grants)


def test_no_key_is_401_unless_the_topic_is_public_and_only_read() -> None:
    assert authorize(None, TOPIC, "read", now_ms=NOW).status == 401
    assert authorize(None, TOPIC, "read", now_ms=NOW).reason == "missing-key"
    public = authorize(None, TOPIC, "read", ["kaga.*"], now_ms=NOW)
    assert (public.allowed, public.principal) == (True, "anonymous")
    assert authorize(None, TOPIC, "publish", ["kaga.*"], now_ms=NOW).status == 401


def test_a_presented_invalid_key_is_401_even_on_a_public_topic() -> None:
    decision = authorize(None, TOPIC, "read", [TOPIC], now_ms=NOW, key_presented=True)
    assert (decision.status, decision.reason) == (401, "invalid-key")


def test_revoked_key_is_401_whatever_its_grants() -> None:
    decision = authorize(key(Grant(TOPIC, "read"), revoked=True), TOPIC, "read", now_ms=NOW)
    assert (decision.status, decision.reason) == (401, "revoked-key")


def test_grants_are_per_permission_and_may_be_globs() -> None:
    reader = key(Grant("kaga.*", "read"))
    assert authorize(reader, TOPIC, "read", now_ms=NOW).allowed
    assert authorize(reader, TOPIC, "read", now_ms=NOW).principal == "tk_0123456789abcdef"
    refused = authorize(reader, TOPIC, "publish", now_ms=NOW)
    assert (refused.status, refused.reason) == (403, "no-grant")
    assert authorize(reader, "toyama.mobility.stops.v1", "read", now_ms=NOW).status == 403
    # Globs are case-sensitive, like Kafka topic names.
    assert not topic_matches("KAGA.*", TOPIC)


def test_an_expired_grant_is_403_and_says_so() -> None:
    expired = key(Grant(TOPIC, "read", expires_ms=NOW))
    decision = authorize(expired, TOPIC, "read", now_ms=NOW)
    assert (decision.status, decision.reason) == (403, "grant-expired")
    assert authorize(expired, TOPIC, "read", now_ms=NOW - 1).allowed
    # Another live grant covering the topic still allows.
    both = key(Grant(TOPIC, "read", expires_ms=NOW), Grant("kaga.*", "read"))
    assert authorize(both, TOPIC, "read", now_ms=NOW).allowed


def test_a_key_without_grant_may_still_read_a_public_topic() -> None:
    decision = authorize(key(), TOPIC, "read", [TOPIC], now_ms=NOW)
    assert (decision.allowed, decision.principal) == (True, "tk_0123456789abcdef")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_minutes_burst_then_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    assert all(limiter.check("a", 3).allowed for _ in range(3))
    refused = limiter.check("a", 3)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(20.0)
    # Other principals have their own bucket, at the default rate.
    assert sum(limiter.check("b").allowed for _ in range(61)) == 60
    clock.now += 20.0
    assert limiter.check("a", 3).allowed
    assert not limiter.check("a", 3).allowed


def test_rates_below_one_a_minute_still_admit_a_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert limiter.check("slow", 0.5).allowed
    assert not limiter.check("slow", 0.5).allowed
    clock.now += 120.0
    assert limiter.check("slow", 0.5).allowed


def test_the_least_recent_bucket_is_forgotten_first() -> None:
    limiter = RateLimiter(clock=FakeClock(), max_buckets=2)
    limiter.check("a", 1)
    limiter.check("b", 1)
    limiter.check("c", 1)
    assert limiter.check("a", 1).allowed  # forgotten, so full again
    assert not limiter.check("c", 1).allowed


def test_units() -> None:
    assert parse_duration_ms("30d") == 30 * 86_400_000
    assert parse_duration_ms("15m") == parse_duration_ms("15min") == 900_000
    assert parse_rate_per_minute("600/min") == 600
    assert parse_rate_per_minute("10/s") == 600
    assert parse_rate_per_minute("120/h") == pytest.approx(2)
    for bad in ("", "30", "0d", "-1d", "3 years"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration_ms(bad)
    for bad in ("600", "0/min", "fast"):
        with pytest.raises(ValueError, match="rate"):
            parse_rate_per_minute(bad)
