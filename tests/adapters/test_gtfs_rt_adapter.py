"""GTFS-Realtime: the pure normaliser on real and built feeds, and the real Bull Runner feed
ingested end to end (loopback HTTP, the embedded broker, the registry) and read back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from google.transit import gtfs_realtime_pb2 as rt

from adapters.base import urn
from adapters.gtfs_rt.normalise import MalformedRealtimeError, Params, parse_feed
from hub.kafka import Cluster
from hub.schemas import SchemaCatalogue
from tests.ingest_runtime.harness import FeedServer, IngestEnv, feed_server, ingest_env

REPO = Path(__file__).resolve().parents[2]
BULL_RUNNER = REPO / "tests" / "data" / "gtfs-rt" / "bullrunner-vehicle-positions.pb"
CATALOGUE = SchemaCatalogue.load(REPO / "schemas" / "avro")
NOW = 1_700_000_000_000


def params() -> Params:
    return Params(
        lambda kind, *local: urn(kind, "usf", *local),
        lambda observed: {
            "area": "usf",
            "source_feed": "bull-runner",
            "observed_at": observed,
            "ingested_at": NOW,
        },
        NOW,
    )


def valid(record: dict[str, Any], schema: str) -> bool:
    parsed = CATALOGUE.get(schema).parsed
    return bool(fastavro.validation.validate(record, parsed, raise_errors=True))


def test_the_real_bull_runner_feed_normalises_to_valid_vehicle_positions() -> None:
    message = rt.FeedMessage()
    message.ParseFromString(BULL_RUNNER.read_bytes())
    items = list(parse_feed(BULL_RUNNER.read_bytes(), params()))
    assert {i.entity for i in items} == {"vehicle_positions"}
    assert len(items) == len({e.id for e in message.entity if e.HasField("vehicle")})
    first = next(e for e in message.entity if e.HasField("vehicle"))
    record = next(i.record for i in items if i.record["vehicle_id"] == first.vehicle.vehicle.id)
    assert record["latitude"] == pytest.approx(first.vehicle.position.latitude)
    assert record["route_id"] == first.vehicle.trip.route_id
    # This feed stamps only its header: that is when the positions were true.
    assert not first.vehicle.HasField("timestamp")
    assert record["observed_at"] == message.header.timestamp * 1000
    assert record["id"] == f"urn:ngsi-ld:Vehicle:usf:{first.vehicle.vehicle.id}"
    assert all(valid(i.record, "tsunagu.mobility.VehiclePosition") for i in items)


def built_feed() -> bytes:
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.incrementality = rt.FeedHeader.DIFFERENTIAL
    message.header.timestamp = 1_700_000_100
    update = message.entity.add(id="tu-1").trip_update
    update.trip.trip_id = "t1"
    update.trip.start_date = "20231114"
    update.trip.schedule_relationship = rt.TripDescriptor.SCHEDULED
    update.delay = 90
    by_delay = update.stop_time_update.add(stop_sequence=3, stop_id="s3")
    by_delay.arrival.delay = 60
    by_time = update.stop_time_update.add(stop_sequence=4)
    by_time.departure.time = 1_700_000_400
    update.stop_time_update.add(
        stop_sequence=5, schedule_relationship=rt.TripUpdate.StopTimeUpdate.SKIPPED
    )
    alert = message.entity.add(id="al-1").alert
    alert.cause = rt.Alert.CONSTRUCTION
    alert.effect = rt.Alert.DETOUR
    alert.active_period.add(start=1_700_000_000)
    alert.informed_entity.add(route_id="r9")
    alert.header_text.translation.add(text="迂回運行", language="ja")
    alert.header_text.translation.add(text="Detour", language="en")
    message.entity.add(id="gone", is_deleted=True).vehicle.vehicle.id = "x"
    bare = message.entity.add(id="v-bare").vehicle  # no trip, no timestamp
    bare.position.latitude, bare.position.longitude = 28.06, -82.41
    dup = message.entity.add(id="v-bare-again").vehicle
    dup.vehicle.id = "v-bare"
    dup.position.latitude, dup.position.longitude = 28.07, -82.42
    data: bytes = message.SerializeToString()
    return data


def test_trip_updates_alerts_incremental_feeds_and_missing_fields() -> None:
    items = {(i.entity, i.record["id"]): i.record for i in parse_feed(built_feed(), params())}
    update = items[("trip_updates", "urn:ngsi-ld:TripUpdate:usf:t1:20231114")]
    assert update["delay"] == 90
    assert update["observed_at"] == 1_700_000_100_000  # the header's time
    stops = update["stop_time_updates"]
    assert (stops[0]["arrival_delay"], stops[0]["arrival_time"]) == (60, None)
    assert stops[1]["departure_time"] == 1_700_000_400_000
    assert stops[2]["schedule_relationship"] == "SKIPPED"
    assert update["trip_properties"] is None
    alert = items[("alerts", "urn:ngsi-ld:Alert:usf:al-1")]
    assert (alert["cause"], alert["effect"]) == ("CONSTRUCTION", "DETOUR")
    assert alert["header_text"] == [
        {"text": "迂回運行", "language": "ja"},
        {"text": "Detour", "language": "en"},
    ]
    assert alert["informed_entities"][0]["route_id"] == "r9"
    # Deleted entities are skipped; an entity without a vehicle descriptor is known by its
    # entity id, and two entities for one vehicle keep the last.
    vehicles = [r for (kind, _), r in items.items() if kind == "vehicle_positions"]
    assert len(vehicles) == 1
    assert vehicles[0]["vehicle_id"] == "v-bare"
    assert vehicles[0]["latitude"] == pytest.approx(28.07)  # protobuf floats are 32-bit
    assert all(
        valid(
            r,
            {
                "trip_updates": "tsunagu.mobility.TripUpdate",
                "alerts": "tsunagu.mobility.ServiceAlert",
                "vehicle_positions": "tsunagu.mobility.VehiclePosition",
            }[k],
        )
        for (k, _), r in items.items()
    )


def test_every_field_of_the_schemas_is_read_when_the_feed_has_it() -> None:
    """The newer GTFS-RT fields the schemas have a home for: carriages and wheelchair access,
    assigned stops, scheduled times and occupancy per stop, alert details, TTS and images."""
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = 1_700_000_100
    vehicle = message.entity.add(id="train-7").vehicle
    vehicle.vehicle.id = "train-7"
    vehicle.vehicle.wheelchair_accessible = rt.VehicleDescriptor.WHEELCHAIR_INACCESSIBLE
    vehicle.position.latitude, vehicle.position.longitude = 35.68, 139.76
    # Listed out of order; the second carriage has no data (-1, the spec's default).
    vehicle.multi_carriage_details.add(
        id="c2", label="2号車", carriage_sequence=2, occupancy_percentage=-1
    )
    vehicle.multi_carriage_details.add(
        id="c1",
        carriage_sequence=1,
        occupancy_status=rt.VehiclePosition.FEW_SEATS_AVAILABLE,
        occupancy_percentage=75,
    )
    unknown = message.entity.add(id="bus-1").vehicle
    unknown.vehicle.id = "bus-1"
    unknown.vehicle.wheelchair_accessible = rt.VehicleDescriptor.UNKNOWN
    unknown.position.latitude, unknown.position.longitude = 35.0, 139.0
    update = message.entity.add(id="tu-new").trip_update
    update.trip.trip_id = "extra-1"
    update.trip.schedule_relationship = rt.TripDescriptor.NEW
    update.vehicle.license_plate = "品川500あ1234"
    update.trip_properties.shape_id = "detour-shape"
    update.trip_properties.trip_headsign = "臨時 熊本駅"
    stop = update.stop_time_update.add(stop_sequence=1, stop_id="s1")
    stop.arrival.scheduled_time = 1_700_000_500
    stop.departure.scheduled_time = 1_700_000_560
    stop.departure_occupancy_status = rt.VehiclePosition.STANDING_ROOM_ONLY
    stop.stop_time_properties.assigned_stop_id = "s1-platform-3"
    alert = message.entity.add(id="al-2").alert
    alert.cause_detail.translation.add(text="信号故障", language="ja")
    alert.effect_detail.translation.add(text="Single-track working", language="en")
    alert.tts_header_text.translation.add(text="Delays on the Yamanote line", language="en")
    alert.tts_description_text.translation.add(text="Expect 20 minutes", language="en")
    alert.image.localized_image.add(url="https://example.jp/map.png", media_type="image/png")
    alert.image_alternative_text.translation.add(text="Map of the detour", language="en")
    items = {
        (i.entity, i.record["id"]): i.record
        for i in parse_feed(message.SerializeToString(), params())
    }

    train = items[("vehicle_positions", "urn:ngsi-ld:Vehicle:usf:train-7")]
    assert train["wheelchair_accessible"] == "NOT_ACCESSIBLE"
    assert train["carriages"] == [
        {
            "carriage_id": "c1",
            "label": None,
            "occupancy_status": "FEW_SEATS_AVAILABLE",
            "occupancy_percentage": 75,
            "carriage_sequence": 1,
        },
        {
            "carriage_id": "c2",
            "label": "2号車",
            "occupancy_status": None,
            "occupancy_percentage": None,
            "carriage_sequence": 2,
        },
    ]
    bus = items[("vehicle_positions", "urn:ngsi-ld:Vehicle:usf:bus-1")]
    assert (bus["wheelchair_accessible"], bus["carriages"]) == ("NO_INFO", [])
    trip = items[("trip_updates", "urn:ngsi-ld:TripUpdate:usf:extra-1")]
    assert trip["license_plate"] == "品川500あ1234"
    assert trip["trip_properties"] == {
        "trip_id": None,
        "start_date": None,
        "start_time": None,
        "shape_id": "detour-shape",
        "trip_headsign": "臨時 熊本駅",
        "trip_short_name": None,
    }
    (first,) = trip["stop_time_updates"]
    assert first["assigned_stop_id"] == "s1-platform-3"
    assert first["arrival_scheduled_time"] == 1_700_000_500_000
    assert first["departure_scheduled_time"] == 1_700_000_560_000
    assert (first["arrival_time"], first["departure_time"]) == (None, None)
    assert first["departure_occupancy_status"] == "STANDING_ROOM_ONLY"
    notice = items[("alerts", "urn:ngsi-ld:Alert:usf:al-2")]
    assert notice["cause_detail"] == [{"text": "信号故障", "language": "ja"}]
    assert notice["effect_detail"] == [{"text": "Single-track working", "language": "en"}]
    assert notice["tts_header_text"][0]["text"] == "Delays on the Yamanote line"
    assert notice["tts_description_text"][0]["text"] == "Expect 20 minutes"
    assert notice["images"] == [
        {"url": "https://example.jp/map.png", "media_type": "image/png", "language": None}
    ]
    assert notice["image_alternative_text"] == [{"text": "Map of the detour", "language": "en"}]
    schemas = {
        "trip_updates": "tsunagu.mobility.TripUpdate",
        "alerts": "tsunagu.mobility.ServiceAlert",
        "vehicle_positions": "tsunagu.mobility.VehiclePosition",
    }
    assert all(valid(r, schemas[k]) for (k, _), r in items.items())


@pytest.mark.parametrize("garbage", [b"\xff\xfe not protobuf at all", b"<html>503</html>"])
def test_garbage_is_not_a_feed(garbage: bytes) -> None:
    with pytest.raises(MalformedRealtimeError):
        list(parse_feed(garbage, params()))


def test_an_empty_feed_yields_nothing() -> None:
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    assert list(parse_feed(message.SerializeToString(), params())) == []


@pytest.fixture
async def env(
    tmp_path: Path, cluster: Cluster, unique: str
) -> AsyncIterator[tuple[IngestEnv, FeedServer]]:
    topic = f"usf.mobility.vehicle-positions-{unique}.v1"
    async with feed_server({"vp.pb": BULL_RUNNER.read_bytes()}) as server:
        yaml = f"""
        version: 1
        areas:
          usf: {{title: USF}}
        topics:
          {topic}:
            area: usf
            schema: tsunagu.mobility.VehiclePosition
            partitions: 3
            licence: Apache-2.0
            publisher: USF
        feeds:
          bull-runner:
            adapter: gtfs-rt
            url: {server.url("vp.pb")}
            topic: {topic}
        """
        async with ingest_env(
            tmp_path, cluster.bootstrap_servers, REPO / "schemas" / "avro", yaml
        ) as e:
            yield e, server


async def test_the_bull_runner_feed_lands_on_kafka_and_a_restart_publishes_nothing_new(
    env: tuple[IngestEnv, FeedServer],
) -> None:
    ingest, _ = env
    source = [i.record for i in parse_feed(BULL_RUNNER.read_bytes(), params())]
    summary = await (await ingest.runner("bull-runner")).run_cycle()
    assert (summary.outcome, summary.produced, summary.dead_letter) == ("ok", len(source), 0)
    topic = next(iter(ingest.deployment.topics))
    landed = {r["vehicle_id"]: r for r in await ingest.read(topic)}
    assert set(landed) == {r["vehicle_id"] for r in source}
    for record in source:
        got = landed[record["vehicle_id"]]
        assert got["latitude"] == pytest.approx(record["latitude"])
        assert got["route_id"] == record["route_id"]
    again = await (await ingest.runner("bull-runner")).run_cycle()
    assert (again.outcome, again.produced) == ("not_modified", 0)


async def test_a_vehicle_gone_from_a_full_dataset_is_retired_but_not_from_a_differential_one(
    env: tuple[IngestEnv, FeedServer],
) -> None:
    ingest, server = env
    first = await (await ingest.runner("bull-runner")).run_cycle()
    assert (first.outcome, first.retired) == ("ok", 0)
    topic = next(iter(ingest.deployment.topics))
    ids = {r["vehicle_id"]: r["id"] for r in await ingest.read(topic)}

    message = rt.FeedMessage()
    message.ParseFromString(BULL_RUNNER.read_bytes())
    assert message.header.incrementality == rt.FeedHeader.FULL_DATASET
    gone = message.entity[0].vehicle.vehicle.id
    del message.entity[0]
    server.files["vp.pb"] = message.SerializeToString()
    summary = await (await ingest.runner("bull-runner")).run_cycle()
    assert (summary.outcome, summary.produced, summary.retired) == ("ok", 0, 1)
    assert await ingest.tombstones(topic) == [ids[gone]]

    # A differential feed lists only what changed: a vehicle it leaves out is not gone.
    message.header.incrementality = rt.FeedHeader.DIFFERENTIAL
    del message.entity[0]
    server.files["vp.pb"] = message.SerializeToString()
    differential = await (await ingest.runner("bull-runner")).run_cycle()
    assert (differential.outcome, differential.retired) == ("ok", 0)
    assert await ingest.tombstones(topic) == [ids[gone]]


async def test_a_feed_of_several_urls_retires_only_after_reading_all_of_them_in_full(
    tmp_path: Path, cluster: Cluster, unique: str
) -> None:
    positions = rt.FeedMessage()
    positions.ParseFromString(BULL_RUNNER.read_bytes())
    alerts = rt.FeedMessage()
    alerts.header.gtfs_realtime_version = "2.0"
    alerts.header.timestamp = positions.header.timestamp
    alerts.entity.add(id="detour").alert.header_text.translation.add(text="Detour")
    vp_topic = f"usf.mobility.vehicle-positions-{unique}.v1"
    alert_topic = f"usf.mobility.alerts-{unique}.v1"
    files = {"vp.pb": positions.SerializeToString(), "alerts.pb": alerts.SerializeToString()}
    async with feed_server(files) as server:
        yaml = f"""
        version: 1
        areas:
          usf: {{title: USF}}
        topics:
          {vp_topic}:
            area: usf
            schema: tsunagu.mobility.VehiclePosition
            licence: Apache-2.0
            publisher: USF
          {alert_topic}:
            area: usf
            schema: tsunagu.mobility.ServiceAlert
            licence: Apache-2.0
            publisher: USF
        feeds:
          bull-runner:
            adapter: gtfs-rt
            urls: {{positions: "{server.url("vp.pb")}", alerts: "{server.url("alerts.pb")}"}}
            topics: {{vehicle_positions: {vp_topic}, alerts: {alert_topic}}}
        """
        async with ingest_env(
            tmp_path, cluster.bootstrap_servers, REPO / "schemas" / "avro", yaml
        ) as ingest:
            first = await (await ingest.runner("bull-runner")).run_cycle()
            assert (first.outcome, first.produced, first.retired) == (
                "ok",
                len(positions.entity) + 1,
                0,
            )
            ids = {r["vehicle_id"]: r["id"] for r in await ingest.read(vp_topic)}

            # A vehicle leaves while the alerts answer 304: their alert was not seen this
            # cycle, so nothing may be retired yet (the alert would go with the vehicle).
            gone = [positions.entity[0].vehicle.vehicle.id]
            del positions.entity[0]
            server.files["vp.pb"] = positions.SerializeToString()
            waiting = await (await ingest.runner("bull-runner")).run_cycle()
            assert (waiting.outcome, waiting.retired) == ("ok", 0)

            # Both read in full: the two vehicles gone and the ended alert are retired.
            gone.append(positions.entity[0].vehicle.vehicle.id)
            del positions.entity[0]
            del alerts.entity[0]
            server.files["vp.pb"] = positions.SerializeToString()
            server.files["alerts.pb"] = alerts.SerializeToString()
            both = await (await ingest.runner("bull-runner")).run_cycle()
            assert (both.outcome, both.produced, both.retired) == ("ok", 0, 3)
            assert sorted(await ingest.tombstones(vp_topic)) == sorted(ids[v] for v in gone)
            assert await ingest.tombstones(alert_topic) == ["urn:ngsi-ld:Alert:usf:detour"]
