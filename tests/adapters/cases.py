"""What the shared adapter suite needs to know about each adapter: a valid feed, an empty
one, one with a duplicated entity, and garbage, as files a loopback server serves."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.transit import gtfs_realtime_pb2 as rt

from tests.adapters.gtfs_feeds import GTFS, changed, tables_of, zip_of

BULL_RUNNER_RT = GTFS.parent / "gtfs-rt" / "bullrunner-vehicle-positions.pb"


@dataclass(frozen=True)
class AdapterCase:
    """One adapter, fed through the shared suite."""

    adapter: str
    entry: str  # the file the feed's url names
    valid: dict[str, bytes]
    produced: int  # records one cycle of ``valid`` produces
    empty: dict[str, bytes]  # a well-formed feed with nothing in it
    duplicated: dict[str, bytes]  # ``valid`` with one entity twice
    garbage: dict[str, bytes]  # bytes that are not the format
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
        valid={"feed.pb": body},
        produced=vehicles,
        empty={"feed.pb": empty.SerializeToString()},
        duplicated={"feed.pb": twice.SerializeToString()},
        garbage={"feed.pb": b"\x0a\xff\xff\xff\xff garbage, not protobuf"},
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
        valid={"feed.zip": sample.read_bytes()},
        produced=sum(counts.values()),
        empty={"feed.zip": zip_of(headers_only)},
        duplicated={
            "feed.zip": changed(
                sample, {"stops.txt": lambda t: t + t.strip().splitlines()[-1] + "\n"}
            )
        },
        garbage={"feed.zip": b"PK\x03\x04 this is not really a zip archive"},
        schemas={
            "stops": "tsunagu.mobility.Stop",
            "routes": "tsunagu.mobility.Route",
            "trips": "tsunagu.mobility.Trip",
            "stop_times": "tsunagu.mobility.StopTime",
        },
        duplicate_refused="is not unique",
    )


CASES = [_gtfs_rt(), _gtfs()]
