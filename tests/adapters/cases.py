"""What the shared adapter suite needs to know about each adapter: a valid feed, an empty
one, one with a duplicated entity, and garbage, as files a loopback server serves."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from google.transit import gtfs_realtime_pb2 as rt

from tests.adapters.gbfs_feeds import fixture, served
from tests.adapters.gtfs_feeds import GTFS, changed, tables_of, zip_of

Files = Callable[[str], dict[str, bytes]]  # the server's base URL -> {path: bytes}

BULL_RUNNER_RT = GTFS.parent / "gtfs-rt" / "bullrunner-vehicle-positions.pb"


@dataclass(frozen=True)
class AdapterCase:
    """One adapter, fed through the shared suite."""

    adapter: str
    entry: str  # the file the feed's url names
    valid: Files
    produced: int  # records one cycle of ``valid`` produces
    empty: Files  # a well-formed feed with nothing in it
    duplicated: Files  # ``valid`` with one entity twice
    garbage: Files  # bytes that are not the format
    schemas: dict[str, str]  # entity -> canonical schema
    # None: the duplicate is published once; else the feed is refused with this message.
    duplicate_refused: str | None = None
    options: dict[str, object] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.adapter


def _gtfs_rt() -> AdapterCase:
    body = BULL_RUNNER_RT.read_bytes()
    message = rt.FeedMessage()
    message.ParseFromString(body)
    vehicles = len({e.vehicle.vehicle.id for e in message.entity if e.HasField("vehicle")})
    twice = rt.FeedMessage()
    twice.CopyFrom(message)
    copy = twice.entity.add()
    copy.CopyFrom(message.entity[0])
    copy.id = "a-second-entity-for-the-same-vehicle"
    empty = rt.FeedMessage()
    empty.header.CopyFrom(message.header)
    return AdapterCase(
        adapter="gtfs-rt",
        entry="feed.pb",
        valid=lambda _: {"feed.pb": body},
        produced=vehicles,
        empty=lambda _: {"feed.pb": empty.SerializeToString()},
        duplicated=lambda _: {"feed.pb": twice.SerializeToString()},
        garbage=lambda _: {"feed.pb": b"\x0a\xff\xff\xff\xff garbage, not protobuf"},
        schemas={"vehicle_positions": "tsunagu.mobility.VehiclePosition"},
    )


def _gtfs() -> AdapterCase:
    sample = GTFS / "sample_gtfs.zip"
    tables = tables_of(sample)
    counts = {
        t: tables[t].decode("utf-8-sig").strip().count("\n")
        for t in ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
    }
    headers_only = {name: data.split(b"\n", 1)[0] + b"\n" for name, data in tables.items()}
    return AdapterCase(
        adapter="gtfs",
        entry="feed.zip",
        valid=lambda _: {"feed.zip": sample.read_bytes()},
        produced=sum(counts.values()),
        empty=lambda _: {"feed.zip": zip_of(headers_only)},
        duplicated=lambda _: {
            "feed.zip": changed(
                sample, {"stops.txt": lambda t: t + t.strip().splitlines()[-1] + "\n"}
            )
        },
        garbage=lambda _: {"feed.zip": b"PK\x03\x04 this is not really a zip archive"},
        schemas={
            "stops": "tsunagu.mobility.Stop",
            "routes": "tsunagu.mobility.Route",
            "trips": "tsunagu.mobility.Trip",
            "stop_times": "tsunagu.mobility.StopTime",
        },
        duplicate_refused="is not unique",
    )


def _gbfs() -> AdapterCase:
    def emptied(base: str) -> dict[str, bytes]:
        files = served("2.3", base)
        for name, key in (
            ("station_information", "stations"),
            ("station_status", "stations"),
            ("free_bike_status", "bikes"),
            ("vehicle_types", "vehicle_types"),
            ("system_alerts", "alerts"),
        ):
            doc = fixture("2.3", name)
            doc["data"][key] = []
            files[f"{name}.json"] = json.dumps(doc).encode()
        return files

    def duplicated(base: str) -> dict[str, bytes]:
        files = served("2.3", base)
        doc = fixture("2.3", "free_bike_status")
        doc["data"]["bikes"].append(doc["data"]["bikes"][0])
        files["free_bike_status.json"] = json.dumps(doc).encode()
        return files

    return AdapterCase(
        adapter="gbfs",
        entry="gbfs.json",
        valid=lambda base: served("2.3", base),
        produced=2 + 1 + 2 + 1,  # stations, bikes, vehicle types, alerts of the 2.3 fixtures
        empty=emptied,
        duplicated=duplicated,
        garbage=lambda _: {"gbfs.json": b"<html><body>502 Bad Gateway</body></html>"},
        schemas={
            "stations": "tsunagu.mobility.SharedMobilityStation",
            "vehicles": "tsunagu.mobility.SharedVehicle",
            "vehicle_types": "tsunagu.mobility.VehicleType",
            "alerts": "tsunagu.mobility.ServiceAlert",
        },
    )


CASES = [_gtfs_rt(), _gtfs(), _gbfs()]
