"""GTFS end to end: the real Cairns feed and GTFS-JP Kumamoto files served over loopback HTTP,
ingested into the embedded broker and read back through the registry; a changed feed
publishes only what changed; a broken feed publishes nothing and says where it broke."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.gtfs.values import gtfs_time
from hub.kafka import Cluster
from tests.adapters.gtfs_feeds import BROKEN, GTFS, KUMAMOTO, REPO, changed, tables_of, zip_of
from tests.ingest_runtime.harness import FeedServer, IngestEnv, feed_server, ingest_env

CAIRNS = GTFS / "cairns_gtfs.zip"
ENTITIES = ("stops", "routes", "trips", "stop_times")
SCHEMAS = {"stops": "Stop", "routes": "Route", "trips": "Trip", "stop_times": "StopTime"}


@pytest.fixture
async def env(
    tmp_path: Path, cluster: Cluster, unique: str
) -> AsyncIterator[tuple[IngestEnv, FeedServer, dict[str, str]]]:
    topics = {e: f"qld.transit.{e.replace('_', '-')}-{unique}.v1" for e in ENTITIES}
    files = {
        "cairns.zip": CAIRNS.read_bytes(),
        "broken.zip": (BROKEN / "undefined_stop.zip").read_bytes(),
        "kumamoto.zip": zip_of(tables_of(KUMAMOTO)),
    }
    async with feed_server(files) as server:
        topic_yaml = "".join(
            f"""
          {topics[e]}:
            area: qld
            schema: tsunagu.mobility.{SCHEMAS[e]}
            partitions: 2
            cleanup: compact
            licence: CC-BY-4.0
            publisher: Translink"""
            for e in ENTITIES
        )
        routing = "".join(f"\n              {e}: {topics[e]}" for e in ENTITIES)
        yaml = f"""
        version: 1
        areas:
          qld: {{title: Queensland, timezone: Australia/Brisbane}}
        topics:{topic_yaml}
        feeds:
          cairns:
            adapter: gtfs
            url: {server.url("cairns.zip")}
            schedule: {{interval: 1d}}
            topics:{routing}
          broken:
            adapter: gtfs
            url: {server.url("broken.zip")}
            schedule: {{interval: 1d}}
            topics:{routing}
          kumamoto:
            adapter: gtfs
            url: {server.url("kumamoto.zip")}
            schedule: {{interval: 1d}}
            options: {{partial: true}}
            topics:{routing}
        """
        async with ingest_env(
            tmp_path, cluster.bootstrap_servers, REPO / "schemas" / "avro", yaml
        ) as e:
            yield e, server, topics


async def test_cairns_lands_whole_and_a_changed_feed_publishes_only_the_change(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, server, topics = env
    tables = tables_of(CAIRNS)
    expected = {e: tables[f"{e}.txt"].decode("utf-8-sig").strip().count("\n") for e in ENTITIES}
    summary = await (await ingest.runner("cairns")).run_cycle()
    assert (summary.outcome, summary.dead_letter, summary.errors) == ("ok", 0, [])
    assert summary.produced == sum(expected.values())

    stops = {r["stop_id"]: r for r in await ingest.read(topics["stops"])}
    assert len(stops) == expected["stops"]
    assert stops["750000"]["name"] == "Cedar Rd (Palm Cove) - Hail and Ride Location"
    assert stops["750000"]["latitude"] == pytest.approx(-16.74359)
    assert stops["750000"]["area"] == "qld"
    times = await ingest.read(topics["stop_times"])
    assert len(times) == expected["stop_times"]
    header, first = tables["stop_times.txt"].decode().splitlines()[:2]
    row = dict(zip(header.split(","), first.split(","), strict=True))
    landed = next(
        t
        for t in times
        if t["trip_id"] == row["trip_id"] and t["stop_sequence"] == int(row["stop_sequence"])
    )
    assert landed["departure_time"] == gtfs_time(row["departure_time"])

    again = await (await ingest.runner("cairns")).run_cycle()
    assert (again.outcome, again.produced) == ("not_modified", 0)

    # The publisher renames one stop and re-zips: only that stop is published again.
    server.files["cairns.zip"] = changed(
        CAIRNS,
        {"stops.txt": lambda t: t.replace("Cedar Rd (Palm Cove)", "Cedar Road (Palm Cove)")},
    )
    third = await (await ingest.runner("cairns")).run_cycle()
    assert (third.outcome, third.produced) == ("ok", 1)
    assert third.unchanged == sum(expected.values()) - 1
    renamed = [r for r in await ingest.read(topics["stops"]) if r["stop_id"] == "750000"]
    assert renamed[-1]["name"] == "Cedar Road (Palm Cove) - Hail and Ride Location"
    assert await ingest.tombstones(topics["trips"]) == []

    # The next timetable drops a trip: the trip and its stop times are retired (tombstones
    # on the compacted topics), nothing else is touched.
    dropped = times[0]["trip_id"]
    trip_ids = {r["trip_id"]: r["id"] for r in await ingest.read(topics["trips"])}
    gone_times = {t["id"] for t in times if t["trip_id"] == dropped}
    assert len(gone_times) > 1

    def without_trip(text: str) -> str:
        lines = text.splitlines(keepends=True)
        column = lines[0].strip().lstrip("\ufeff").split(",").index("trip_id")
        return "".join(
            line for line in lines if line.strip().split(",")[column] != dropped or line is lines[0]
        )

    edits = {
        "stops.txt": lambda t: t.replace("Cedar Rd (Palm Cove)", "Cedar Road (Palm Cove)"),
        "trips.txt": without_trip,
        "stop_times.txt": without_trip,
    }
    server.files["cairns.zip"] = changed(CAIRNS, edits)
    fourth = await (await ingest.runner("cairns")).run_cycle()
    assert (fourth.outcome, fourth.produced, fourth.errors) == ("ok", 0, [])
    assert fourth.retired == 1 + len(gone_times)
    assert fourth.unchanged == sum(expected.values()) - fourth.retired
    assert await ingest.tombstones(topics["trips"]) == [trip_ids[dropped]]
    assert sorted(await ingest.tombstones(topics["stop_times"])) == sorted(gone_times)
    assert await ingest.tombstones(topics["stops"]) == []

    # The same timetable in a new zip (another file comment: fetched and read again):
    # everything is unchanged and nothing more is retired.
    server.files["cairns.zip"] = changed(CAIRNS, edits, comment=b"re-zipped")
    fifth = await (await ingest.runner("cairns")).run_cycle()
    assert (fifth.outcome, fifth.produced, fifth.retired) == ("ok", 0, 0)
    assert fifth.unchanged == fourth.unchanged


async def test_a_broken_feed_publishes_nothing_and_names_file_and_line(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, _, topics = env
    runner = await ingest.runner("broken")
    summary = await runner.run_cycle()
    assert summary.outcome == "error"
    assert summary.produced == 0
    assert "stop_times.txt:11: stop_id 'NADAR' is not in stops.txt" in " ".join(summary.errors)
    status = await ingest.store.status("broken")
    assert status is not None
    assert not status.healthy
    assert "stop_times.txt:11" in (status.last_error or "")
    assert await ingest.read_raw(topics["stops"], timeout=5) == []


async def test_gtfs_jp_partial_feed_lands_with_translations(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, _, topics = env
    summary = await (await ingest.runner("kumamoto")).run_cycle()
    assert (summary.outcome, summary.produced) == ("ok", 630 + 70 + 1759)
    assert any("agency_jp.txt" in note for note in summary.notes)
    stops = {r["stop_id"]: r for r in await ingest.read(topics["stops"])}
    kana = [t for t in stops["100001_1"]["name_translations"] if t["language"] == "ja-Hrkt"]
    assert kana == [{"text": "シヤクショマエ", "language": "ja-Hrkt"}]
    routes = {r["route_id"]: r for r in await ingest.read(topics["routes"])}
    assert routes["1_1073_2_20240401"]["agency_name"] == "熊本バス"
