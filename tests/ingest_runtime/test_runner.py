"""The ingest runtime against real parts: a loopback feed server with faults, the embedded
registry over HTTP, the session's Kafka broker and a SQLite store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest

from adapters import registry as adapter_registry
from hub import headers as h
from hub.broker import EmbeddedBroker
from hub.errors import BrokerStartError
from hub.ingest.fetch import FetchPolicy
from hub.kafka import Cluster
from tests.conftest import service_missing
from tests.ingest_runtime.harness import Fault, FeedServer, IngestEnv, feed_server, ingest_env

SCHEMAS = Path(__file__).parent / "schemas"
T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def things_adapter() -> Iterator[None]:
    adapter_registry.BUILTIN["test-things"] = "tests.ingest_runtime.things:ThingsAdapter"
    yield
    del adapter_registry.BUILTIN["test-things"]


def things(*items: tuple[str, str | None, float | None]) -> bytes:
    return orjson.dumps([{"id": i, "name": n, "value": v, "t": T0} for i, n, v in items])


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with feed_server({"things.json": things(("a", "A", 1.0), ("b", "B", 2.0))}) as s:
        yield s


def deployment(server: FeedServer, unique: str, *, every: bool = False) -> str:
    return f"""
    version: 1
    areas:
      town: {{title: Test Town, id_namespace: town}}
    topics:
      town.test.things-{unique}.v1:
        area: town
        schema: test.ingest.Thing
        licence: CC-BY-4.0
        publisher: Test Town
        every_observation: {str(every).lower()}
    feeds:
      things:
        adapter: test-things
        url: {server.url("things.json")}
        schedule: {{interval: 1s}}
        topic: town.test.things-{unique}.v1
      others:
        adapter: test-things
        url: {server.url("others.json")}
        topic: town.test.things-{unique}.v1
    """


@pytest.fixture
async def env(
    tmp_path: Path, cluster: Cluster, server: FeedServer, unique: str
) -> AsyncIterator[IngestEnv]:
    async with ingest_env(
        tmp_path, cluster.bootstrap_servers, SCHEMAS, deployment(server, unique)
    ) as e:
        yield e


def topic_of(env: IngestEnv) -> str:
    return next(iter(env.deployment.topics))


async def test_records_land_decoded_keyed_and_with_provenance(env: IngestEnv) -> None:
    runner = await env.runner("things")
    summary = await runner.run_cycle()
    assert (summary.outcome, summary.produced, summary.dead_letter) == ("ok", 2, 0)
    topic = topic_of(env)
    records = sorted(await env.read(topic), key=lambda r: r["id"])
    assert [r["id"] for r in records] == ["urn:ngsi-ld:Thing:town:a", "urn:ngsi-ld:Thing:town:b"]
    assert records[0]["name"] == "A"
    assert records[0]["source_feed"] == "things"
    raw = await env.read_raw(topic)
    assert {m.key() for m in raw} == {b"urn:ngsi-ld:Thing:town:a", b"urn:ngsi-ld:Thing:town:b"}
    headers = dict(raw[0].headers())
    assert headers[h.SOURCE_FEED] == b"things"
    assert headers[h.AREA] == b"town"
    assert len(headers[h.CONTENT_HASH]) == 24


async def test_unchanged_source_costs_no_parsing_and_survives_a_restart(
    env: IngestEnv, server: FeedServer
) -> None:
    runner = await env.runner("things")
    assert (await runner.run_cycle()).produced == 2
    second = await runner.run_cycle()
    assert (second.outcome, second.produced) == ("not_modified", 0)
    # A new runner (a restarted process) reads the saved validators: still a 304.
    restarted = await env.runner("things")
    assert (await restarted.run_cycle()).outcome == "not_modified"
    # A source that ignores conditional GET but repeats itself is caught by content hash.
    server.honour_conditional = False
    assert (await restarted.run_cycle()).outcome == "not_modified"


async def test_only_changed_entities_are_republished(env: IngestEnv, server: FeedServer) -> None:
    runner = await env.runner("things")
    await runner.run_cycle()
    server.files["things.json"] = things(("a", "A", 1.0), ("b", "B", 2.5), ("c", "C", None))
    summary = await runner.run_cycle()
    assert (summary.produced, summary.unchanged) == (2, 1)
    # The hashes were saved: a restarted runner does not republish "a" either.
    server.files["things.json"] = things(("a", "A", 1.0), ("b", "B", 2.5), ("c", "C", 3.0))
    restarted = await env.runner("things")
    summary = await restarted.run_cycle()
    assert (summary.produced, summary.unchanged) == (1, 2)
    assert len(await env.read(topic_of(env))) == 2 + 2 + 1


async def test_a_topic_that_wants_every_observation_gets_repeats(
    tmp_path: Path, cluster: Cluster, server: FeedServer, unique: str
) -> None:
    yaml = deployment(server, unique, every=True)
    async with ingest_env(tmp_path, cluster.bootstrap_servers, SCHEMAS, yaml) as env:
        runner = await env.runner("things")
        await runner.run_cycle()
        server.files["things.json"] = things(("a", "A", 1.0), ("b", "B", 2.0), ("c", "C", 0.5))
        assert (await runner.run_cycle()).produced == 3


async def test_an_invalid_record_goes_to_the_dead_letter_topic_and_the_rest_goes_on(
    env: IngestEnv, server: FeedServer
) -> None:
    server.files["things.json"] = things(("a", "A", 1.0), ("b", None, 2.0), ("c", "C", 3.0))
    summary = await (await env.runner("things")).run_cycle()
    assert (summary.outcome, summary.produced, summary.dead_letter) == ("ok", 2, 1)
    assert "name" in summary.errors[0]
    topic = topic_of(env)
    dead = await env.read_raw(env.deployment.dead_letter_topic(topic))
    assert len(dead) == 1
    headers = dict(dead[0].headers())
    assert headers[h.ERROR_KIND] == b"schema"
    assert headers[h.ERROR_STAGE] == b"encode"
    assert headers[h.SOURCE_FEED] == b"things"
    assert headers[h.INTENDED_TOPIC] == topic.encode()
    assert b"name" in headers[h.ERROR_MESSAGE]
    assert orjson.loads(dead[0].value())["id"] == "urn:ngsi-ld:Thing:town:b"


async def test_http_503_with_retry_after_is_retried_within_the_cycle(
    env: IngestEnv, server: FeedServer
) -> None:
    server.fault = Fault(status=503, times=2, retry_after="0")
    runner = await env.runner("things")
    runner.fetcher.policy = FetchPolicy(attempts=3, backoff_base_s=0.01)
    summary = await runner.run_cycle()
    assert (summary.outcome, summary.produced) == ("ok", 2)
    assert server.requests.count("things.json") == 3


async def test_a_failing_feed_is_unhealthy_logged_once_and_recovers(
    env: IngestEnv, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    runner = await env.runner("things")
    runner.fetcher.policy = FetchPolicy(attempts=1)
    server.fault = Fault(status=500, times=3)
    with caplog.at_level(logging.WARNING, logger="hub.ingest.runner"):
        for _ in range(3):
            summary = await runner.run_cycle()
            assert summary.outcome == "error"
            assert "HTTP 500" in summary.errors[0]
        status = await env.store.status("things")
        assert status is not None
        assert (status.healthy, status.consecutive_failures) == (False, 3)
        summary = await runner.run_cycle()
        assert (summary.outcome, summary.produced) == ("ok", 2)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is failing" in m for m in messages) == 1
    assert sum("recovered after 3 failed cycle(s)" in m for m in messages) == 1
    status = await env.store.status("things")
    assert status is not None
    assert status.healthy
    assert status.newest_observed_ms == T0


async def test_a_time_out_fails_the_cycle(env: IngestEnv, server: FeedServer) -> None:
    runner = await env.runner("things")
    runner.fetcher.policy = FetchPolicy(timeout_s=0.3, attempts=1)
    server.fault = Fault(delay_s=1.0)
    summary = await runner.run_cycle()
    assert summary.outcome == "error"
    assert "timed out" in summary.errors[0]


async def test_a_truncated_body_fails_the_cycle(env: IngestEnv, server: FeedServer) -> None:
    runner = await env.runner("things")
    runner.fetcher.policy = FetchPolicy(attempts=1)
    server.fault = Fault(truncate=True)
    summary = await runner.run_cycle()
    assert summary.outcome == "error"
    assert "truncated" in summary.errors[0]
    # Nothing was remembered: the whole body is fetched and published next time.
    server.fault = Fault()
    assert (await runner.run_cycle()).produced == 2


async def test_garbage_fails_the_feed_not_the_others(env: IngestEnv, server: FeedServer) -> None:
    server.files["others.json"] = b"\x00\xffthis is not json"
    broken = await env.runner("others")
    fine = await env.runner("things")
    summary = await broken.run_cycle()
    assert summary.outcome == "error"
    assert "body: not JSON" in summary.errors[0]
    assert (await fine.run_cycle()).produced == 2


async def test_a_body_over_the_limit_is_refused(env: IngestEnv) -> None:
    runner = await env.runner("things")
    runner.fetcher.policy = FetchPolicy(max_body_bytes=10, attempts=1)
    summary = await runner.run_cycle()
    assert summary.outcome == "error"
    assert "larger than the limit" in summary.errors[0]


async def test_an_empty_feed_is_fine(env: IngestEnv, server: FeedServer) -> None:
    server.files["things.json"] = b"[]"
    summary = await (await env.runner("things")).run_cycle()
    assert (summary.outcome, summary.produced, summary.errors) == ("ok", 0, [])


async def test_duplicate_entities_in_one_fetch_are_published_once(
    env: IngestEnv, server: FeedServer
) -> None:
    server.files["things.json"] = things(("a", "A", 1.0), ("a", "A", 1.0), ("b", "B", 2.0))
    summary = await (await env.runner("things")).run_cycle()
    assert (summary.produced, summary.unchanged) == (2, 1)


async def test_a_feed_publishes_again_into_a_cluster_that_lost_its_records(
    tmp_path: Path, cluster: Cluster, server: FeedServer, unique: str
) -> None:
    """The demo restarted: the store remembers validators and hashes, but the new embedded
    broker holds nothing. The feed must publish again, not answer "not modified" for good."""
    config = deployment(server, unique)
    async with ingest_env(tmp_path, cluster.bootstrap_servers, SCHEMAS, config) as first:
        assert (await (await first.runner("things")).run_cycle()).produced == 2
    fresh = EmbeddedBroker(log_dir=tmp_path / "broker")
    try:
        fresh.start()
    except BrokerStartError as exc:
        service_missing(f"a second embedded broker: {exc}")
    try:
        # Same folder, same store: only the broker is new (as after `tsunagu up` restarts).
        async with ingest_env(tmp_path, fresh.bootstrap_servers, SCHEMAS, config) as restarted:
            summary = await (await restarted.runner("things")).run_cycle()
            assert (summary.outcome, summary.produced) == ("ok", 2)
            records = await restarted.read(topic_of(restarted))
            assert sorted(r["id"] for r in records) == [
                "urn:ngsi-ld:Thing:town:a",
                "urn:ngsi-ld:Thing:town:b",
            ]
            # What it publishes now is remembered again: the next start is quiet.
            again = await (await restarted.runner("things")).run_cycle()
            assert (again.outcome, again.produced) == ("not_modified", 0)
    finally:
        fresh.stop()
