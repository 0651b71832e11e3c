"""The suite every adapter passes, against a real loopback server, the embedded broker and
registry: not modified, time-out, HTTP 5xx then recovery, truncated body, garbage body,
empty feed, duplicate entities. A new adapter joins by adding its case to ``cases.CASES``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from hub.ingest.fetch import FetchPolicy
from hub.ingest.runner import FeedRunner
from hub.kafka import Cluster
from tests.adapters.cases import CASES, AdapterCase
from tests.adapters.gtfs_feeds import REPO
from tests.ingest_runtime.harness import Fault, FeedServer, IngestEnv, feed_server, ingest_env


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
async def suite(
    request: pytest.FixtureRequest, tmp_path: Path, cluster: Cluster, unique: str
) -> AsyncIterator[tuple[AdapterCase, IngestEnv, FeedServer]]:
    case: AdapterCase = request.param
    topics = {e: f"suite.{case.adapter}.{e.replace('_', '-')}-{unique}.v1" for e in case.schemas}
    async with feed_server() as server:
        server.files.update(case.valid(server.base_url))
        topic_yaml = "".join(
            f"""
          {topics[e]}:
            area: suite
            schema: {schema}
            licence: CC-BY-4.0
            publisher: Suite"""
            for e, schema in case.schemas.items()
        )
        routing = "".join(f"\n              {e}: {t}" for e, t in topics.items())
        yaml = f"""
        version: 1
        areas:
          suite: {{title: Suite}}
        topics:{topic_yaml}
        feeds:
          feed:
            adapter: {case.adapter}
            url: {server.url(case.entry)}
            options: {orjson.dumps(case.options).decode()}
            topics:{routing}
        """
        async with ingest_env(
            tmp_path, cluster.bootstrap_servers, REPO / "schemas" / "avro", yaml
        ) as env:
            yield case, env, server


async def runner(env: IngestEnv, **policy: float) -> FeedRunner:
    feed = await env.runner("feed")
    feed.fetcher.policy = FetchPolicy(**{"attempts": 1, **policy})  # type: ignore[arg-type]
    return feed


async def test_not_modified_costs_no_parsing_and_publishes_nothing(
    suite: tuple[AdapterCase, IngestEnv, FeedServer],
) -> None:
    case, env, _ = suite
    first = await (await runner(env)).run_cycle()
    assert (first.outcome, first.produced, first.dead_letter) == ("ok", case.produced, 0)
    again = await (await runner(env)).run_cycle()  # a restart: state comes from the store
    assert (again.outcome, again.produced) == ("not_modified", 0)


async def test_a_time_out_fails_the_cycle_and_the_feed_recovers(
    suite: tuple[AdapterCase, IngestEnv, FeedServer],
) -> None:
    case, env, server = suite
    feed = await runner(env, timeout_s=0.3)
    server.fault = Fault(delay_s=1.0)
    failed = await feed.run_cycle()
    assert failed.outcome == "error"
    assert "timed out" in failed.errors[0]
    server.fault = Fault()
    assert (await feed.run_cycle()).produced == case.produced


async def test_http_5xx_marks_the_feed_unhealthy_until_it_recovers(
    suite: tuple[AdapterCase, IngestEnv, FeedServer],
) -> None:
    case, env, server = suite
    feed = await runner(env)
    server.fault = Fault(status=502, times=2)
    for _ in range(2):
        failed = await feed.run_cycle()
        assert failed.outcome == "error"
        assert "HTTP 502" in failed.errors[0]
    status = await env.store.status("feed")
    assert status is not None
    assert (status.healthy, status.consecutive_failures) == (False, 2)
    assert (await feed.run_cycle()).produced == case.produced
    recovered = await env.store.status("feed")
    assert recovered is not None
    assert recovered.healthy


async def test_a_truncated_body_fails_and_publishes_nothing(
    suite: tuple[AdapterCase, IngestEnv, FeedServer],
) -> None:
    case, env, server = suite
    feed = await runner(env)
    server.fault = Fault(truncate=True)
    failed = await feed.run_cycle()
    assert (failed.outcome, failed.produced) == ("error", 0)
    assert "truncated" in failed.errors[0]
    server.fault = Fault()
    assert (await feed.run_cycle()).produced == case.produced


async def test_a_garbage_body_is_a_located_parse_error(
    suite: tuple[AdapterCase, IngestEnv, FeedServer],
) -> None:
    case, env, server = suite
    server.files.update(case.garbage(server.base_url))
    failed = await (await runner(env)).run_cycle()
    assert (failed.outcome, failed.produced) == ("error", 0)
    assert server.url("") in failed.errors[0]  # names the URL that sent it


async def test_an_empty_feed_is_fine(suite: tuple[AdapterCase, IngestEnv, FeedServer]) -> None:
    case, env, server = suite
    server.files.update(case.empty(server.base_url))
    summary = await (await runner(env)).run_cycle()
    assert (summary.outcome, summary.produced, summary.errors) == ("ok", 0, [])


async def test_a_duplicated_entity_is_published_once_or_refused(
    suite: tuple[AdapterCase, IngestEnv, FeedServer],
) -> None:
    case, env, server = suite
    server.files.update(case.duplicated(server.base_url))
    summary = await (await runner(env)).run_cycle()
    if case.duplicate_refused is None:
        assert (summary.outcome, summary.produced) == ("ok", case.produced)
    else:
        assert (summary.outcome, summary.produced) == ("error", 0)
        assert case.duplicate_refused in summary.errors[0]
