"""GBFS 2.3 and 3.0: the official fixtures, validated with the official JSON Schemas, served
over loopback HTTP, ingested into the embedded broker and read back through the registry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import fastavro
import pytest

from adapters.base import MalformedFeedError, urn
from adapters.gbfs import normalise as n
from adapters.gbfs.validate import validate
from hub.kafka import Cluster
from hub.schemas import SchemaCatalogue
from tests.adapters.gbfs_feeds import GBFS, fixture, served
from tests.adapters.gtfs_feeds import REPO
from tests.ingest_runtime.harness import FeedServer, IngestEnv, feed_server, ingest_env

CATALOGUE = SchemaCatalogue.load(REPO / "schemas" / "avro")
SCHEMAS = {
    "stations": "tsunagu.mobility.SharedMobilityStation",
    "vehicles": "tsunagu.mobility.SharedVehicle",
    "vehicle_types": "tsunagu.mobility.VehicleType",
    "alerts": "tsunagu.mobility.ServiceAlert",
}
VEHICLES = {"2.3": ("free_bike_status", "bikes"), "3.0": ("vehicle_status", "vehicles")}
FIXTURES = [(v, p.stem) for v in ("2.3", "3.0") for p in sorted((GBFS / f"v{v}").glob("*.json"))]


def params(version: str) -> n.Params:
    return n.Params(
        lambda kind, *local: urn(kind, "ns", *local),
        lambda observed: {
            "area": "a",
            "source_feed": "f",
            "observed_at": observed,
            "ingested_at": 1,
        },
        "sys",
        "en",
        1_000,
    )


def valid(record: dict[str, Any], entity: str) -> None:
    fastavro.validation.validate(record, CATALOGUE.get(SCHEMAS[entity]).parsed, raise_errors=True)


@pytest.mark.parametrize(("version", "name"), FIXTURES)
def test_every_fixture_passes_the_official_schema(version: str, name: str) -> None:
    validate(fixture(version, name), version, name, f"{name}.json")


@pytest.mark.parametrize(
    ("version", "name", "path", "change", "message"),
    [
        ("2.3", "station_information", ("data", "stations", 1), ("del", "lat"),
         "data.stations[1]: 'lat' is a required property"),
        ("3.0", "vehicle_status", ("data", "vehicles", 2), ("set", "lat", "north"),
         "data.vehicles[2].lat: 'north' is not of type 'number'"),
        ("3.0", "station_status", ("data",), ("del", "stations"),
         "data: 'stations' is a required property"),
        ("2.3", "system_information", (), ("set", "ttl", -5),
         "ttl: -5 is less than the minimum of 0"),
    ],
)  # fmt: skip
def test_an_invalid_file_is_reported_with_file_and_json_path(
    version: str, name: str, path: tuple[Any, ...], change: tuple[Any, ...], message: str
) -> None:
    doc = fixture(version, name)
    target = doc
    for part in path:
        target = target[part]
    if change[0] == "del":
        del target[change[1]]
    else:
        target[change[1]] = change[2]
    with pytest.raises(MalformedFeedError) as caught:
        validate(doc, version, name, f"https://x/{name}.json")
    assert caught.value.where == f"https://x/{name}.json"
    assert f"{name} (GBFS {version}) breaks its schema at {message}" in str(caught.value)


@pytest.mark.parametrize("version", ["2.3", "3.0"])
def test_stations_join_information_with_status(version: str) -> None:
    information = fixture(version, "station_information")
    status = fixture(version, "station_status")
    records = list(n.stations(information, status, params(version)))
    assert [r["station_id"] for r in records] == [
        s["station_id"] for s in information["data"]["stations"]
    ]
    for record in records:
        valid(record, "stations")
    by_status = {s["station_id"]: s for s in status["data"]["stations"]}
    joined = [r for r in records if r["station_id"] in by_status]
    assert joined
    for record in joined:
        source = by_status[record["station_id"]]
        assert record["num_vehicles_available"] == source.get(
            "num_vehicles_available", source.get("num_bikes_available")
        )
        assert record["is_renting"] == source["is_renting"]
        assert record["last_reported"] == n.millis(source["last_reported"])
        assert record["observed_at"] == n.millis(source["last_reported"])
    first = information["data"]["stations"][0]
    assert records[0]["latitude"] == first["lat"]
    name = first["name"] if version == "2.3" else first["name"][0]["text"]
    assert records[0]["name"] == name


def test_2_3_capacities_and_3_0_station_areas() -> None:
    two = list(n.stations(fixture("2.3", "station_information"), None, params("2.3")))
    assert two[0]["vehicle_docks_capacity"] == [
        {"vehicle_type_ids": ["TST:VehicleType:CityBike"], "count": 7}
    ]
    assert two[0]["num_vehicles_available"] is None  # no status given
    three = list(n.stations(fixture("3.0", "station_information"), None, params("3.0")))
    area = json.loads(three[0]["station_area"])
    assert area["type"] == "MultiPolygon"


@pytest.mark.parametrize("version", ["2.3", "3.0"])
def test_vehicles_types_and_alerts(version: str) -> None:
    name, key = VEHICLES[version]
    source = fixture(version, name)["data"][key]
    vehicles = list(n.vehicles(fixture(version, name), params(version)))
    assert len(vehicles) == len(source)
    assert vehicles[0]["vehicle_id"] == source[0].get("vehicle_id", source[0].get("bike_id"))
    assert vehicles[0]["rental_url_android"] == source[0]["rental_uris"]["android"]
    types = list(n.vehicle_types(fixture(version, "vehicle_types"), params(version)))
    assert len(types) == len(fixture(version, "vehicle_types")["data"]["vehicle_types"])
    alerts = list(n.alerts(fixture(version, "system_alerts"), params(version)))
    assert alerts[0]["gbfs_alert_type"] == "STATION_CLOSURE"
    for entity, records in (("vehicles", vehicles), ("vehicle_types", types), ("alerts", alerts)):
        for record in records:
            valid(record, entity)
    if version == "2.3":
        assert alerts[0]["informed_entities"][0]["station_id"] == "TST:Station:1"
        assert alerts[0]["active_periods"][0]["start"] == 1_751_437_263_000
        assert types[0]["form_factor"] == "SCOOTER"
    else:
        assert types[0]["propulsion_type"] == "ELECTRIC_ASSIST"
        assert types[0]["name"] == "Electric Bicycle"
        assert alerts[0]["header_text"] == [{"text": "High Wind Warning", "language": "en"}]


@pytest.fixture
async def env(
    tmp_path: Path, cluster: Cluster, unique: str
) -> AsyncIterator[tuple[IngestEnv, FeedServer, dict[str, str]]]:
    topics = {e: f"oslo.sharing.{e.replace('_', '-')}-{unique}.v1" for e in SCHEMAS}
    async with feed_server() as server:
        for version in ("2.3", "3.0"):
            server.files.update(served(version, server.base_url, f"v{version}/"))
        manifest = fixture("3.0", "manifest")
        manifest["data"]["datasets"] = [
            {
                "system_id": "paris",
                "versions": [
                    {"version": v, "url": server.url(f"v{v}/gbfs.json")} for v in ("2.3", "3.0")
                ],
            }
        ]
        server.files["manifest.json"] = json.dumps(manifest).encode()
        topic_yaml = "".join(
            f"""
          {topics[e]}:
            area: oslo
            schema: {schema}
            licence: Apache-2.0
            publisher: Test"""
            for e, schema in SCHEMAS.items()
        )
        routing = "".join(f"\n              {e}: {t}" for e, t in topics.items())
        feeds = "".join(
            f"""
          gbfs-{v.replace(".", "-")}:
            adapter: gbfs
            url: {server.url(f"v{v}/gbfs.json")}
            schedule: {{ttl: source, min_interval: 1s}}
            topics:{routing}"""
            for v in ("2.3", "3.0")
        )
        feeds += f"""
          gbfs-manifest:
            adapter: gbfs
            url: {server.url("manifest.json")}
            topics:{routing}"""
        yaml = f"""
        version: 1
        areas:
          oslo: {{title: Oslo}}
        topics:{topic_yaml}
        feeds:{feeds}
        """
        async with ingest_env(
            tmp_path, cluster.bootstrap_servers, REPO / "schemas" / "avro", yaml
        ) as e:
            yield e, server, topics


async def test_both_versions_land_and_follow_the_ttl(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, _, topics = env
    expected: dict[str, int] = {}
    for version in ("2.3", "3.0"):
        name, key = VEHICLES[version]
        counts = {
            "stations": len(fixture(version, "station_information")["data"]["stations"]),
            "vehicles": len(fixture(version, name)["data"][key]),
            "vehicle_types": len(fixture(version, "vehicle_types")["data"]["vehicle_types"]),
            "alerts": len(fixture(version, "system_alerts")["data"]["alerts"]),
        }
        runner = await ingest.runner(f"gbfs-{version.replace('.', '-')}")
        summary = await runner.run_cycle()
        assert (summary.outcome, summary.dead_letter, summary.errors) == ("ok", 0, [])
        assert summary.produced == sum(counts.values())
        # The smallest ttl of the files read decides when to come back (bounded below).
        ttls = [fixture(version, f)["ttl"] for f in ("gbfs", "system_information", "vehicle_types")]
        assert runner.ttl_hint_s is not None
        assert runner.ttl_hint_s <= min(ttls)
        for entity, count in counts.items():
            expected[entity] = expected.get(entity, 0) + count
    for entity, topic in topics.items():
        records = await ingest.read(topic)
        assert len(records) == expected[entity], entity
    stations = {r["station_id"]: r for r in await ingest.read(topics["stations"])}
    status = fixture("2.3", "station_status")["data"]["stations"][0]
    assert stations[status["station_id"]]["num_docks_available"] == status["num_docks_available"]
    assert stations[status["station_id"]]["system_id"] == "TST:System:Test"


async def test_a_new_status_alone_republishes_the_joined_station(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, server, topics = env
    first = await (await ingest.runner("gbfs-2-3")).run_cycle()
    assert first.produced > 0
    again = await (await ingest.runner("gbfs-2-3")).run_cycle()
    assert (again.outcome, again.produced) == ("not_modified", 0)
    status = fixture("2.3", "station_status")
    status["data"]["stations"][0]["num_docks_available"] = 0
    server.files["v2.3/station_status.json"] = json.dumps(status).encode()
    changed = await (await ingest.runner("gbfs-2-3")).run_cycle()
    assert (changed.outcome, changed.produced) == ("ok", 1)
    landed = [
        r for r in await ingest.read(topics["stations"]) if r["station_id"] == "TST:Station:1"
    ]
    assert landed[-1]["num_docks_available"] == 0
    assert landed[-1]["name"] == "Cool bikes"  # from the unchanged station_information


async def test_an_invalid_file_fails_the_feed_with_its_url_and_path(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, server, _ = env
    broken = fixture("3.0", "vehicle_status")
    del broken["data"]["vehicles"][0]["is_reserved"]
    server.files["v3.0/vehicle_status.json"] = json.dumps(broken).encode()
    summary = await (await ingest.runner("gbfs-3-0")).run_cycle()
    assert (summary.outcome, summary.produced) == ("error", 0)
    assert "v3.0/vehicle_status.json" in summary.errors[0]
    assert "'is_reserved' is a required property" in summary.errors[0]


async def test_a_3_0_manifest_leads_to_each_system(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, server, _ = env
    summary = await (await ingest.runner("gbfs-manifest")).run_cycle()
    assert summary.outcome == "ok"
    # The newest supported version was followed: 3.0's seven vehicles, not 2.3's one bike.
    assert summary.produced == 23 + 7 + 1 + 1
    assert "v3.0/gbfs.json" in server.requests
    assert "v2.3/gbfs.json" not in server.requests


async def test_a_rented_vehicle_leaves_the_file_and_is_retired(
    env: tuple[IngestEnv, FeedServer, dict[str, str]],
) -> None:
    ingest, server, topics = env
    first = await (await ingest.runner("gbfs-3-0")).run_cycle()
    assert (first.outcome, first.retired) == ("ok", 0)
    vehicles = {r["vehicle_id"]: r["id"] for r in await ingest.read(topics["vehicles"])}
    status = fixture("3.0", "vehicle_status")
    rented = status["data"]["vehicles"].pop(0)
    server.files["v3.0/vehicle_status.json"] = json.dumps(status).encode()
    # Only vehicle_status changed: the other files answer 304 and retire nothing.
    summary = await (await ingest.runner("gbfs-3-0")).run_cycle()
    assert (summary.outcome, summary.produced, summary.retired) == ("ok", 0, 1)
    assert await ingest.tombstones(topics["vehicles"]) == [vehicles[rented["vehicle_id"]]]
    for entity in ("stations", "vehicle_types", "alerts"):
        assert await ingest.tombstones(topics[entity]) == [], entity
    again = await (await ingest.runner("gbfs-3-0")).run_cycle()
    assert (again.outcome, again.retired) == ("not_modified", 0)
