"""GTFS-Realtime FeedMessage bytes -> canonical records (pure: no network, no clock).

VehiclePosition -> tsunagu.mobility.VehiclePosition, TripUpdate -> TripUpdate,
Alert -> ServiceAlert. Optional fields the feed leaves out become None; enum values
become the schema's symbols (GTFS-RT names). observed_at is the entity's own timestamp,
else the feed header's, else the fetch time. Entities flagged is_deleted (incremental
feeds) are skipped: the schemas describe things that exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

__all__ = ["Normalised", "Params", "parse_feed"]


@dataclass(frozen=True)
class Params:
    """What records need besides the bytes."""

    make_id: Callable[..., str]  # (urn type, *local parts) -> global id
    envelope: Callable[[int], dict[str, Any]]  # observed_at ms -> area, source_feed...
    fetched_at_ms: int


@dataclass(frozen=True)
class Normalised:
    """One canonical record and the entity kind it is."""

    entity: str  # vehicle_positions | trip_updates | alerts
    record: dict[str, Any]


class MalformedRealtimeError(ValueError):
    """The bytes are not a GTFS-Realtime FeedMessage."""


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _enum_name(enum: Any, message: Any, name: str) -> str | None:
    if not message.HasField(name):
        return None
    return str(enum.Name(getattr(message, name)))


def _trip(trip: Any) -> dict[str, Any]:
    return {
        "trip_id": _opt(trip, "trip_id"),
        "route_id": _opt(trip, "route_id"),
        "direction_id": _opt(trip, "direction_id"),
        "start_date": _opt(trip, "start_date"),
        "start_time": _opt(trip, "start_time"),
        "trip_schedule_relationship": _enum_name(
            rt.TripDescriptor.ScheduleRelationship, trip, "schedule_relationship"
        ),
    }


def _translated(text: Any) -> list[dict[str, str]]:
    return [{"text": t.text, "language": t.language or "und"} for t in text.translation if t.text]


def _observed(entity_ts: int | None, header_ts: int | None, fetched_at_ms: int) -> int:
    if entity_ts:
        return entity_ts * 1000
    if header_ts:
        return header_ts * 1000
    return fetched_at_ms


def _vehicle(entity: Any, header_ts: int | None, p: Params) -> dict[str, Any]:
    v = entity.vehicle
    descriptor = v.vehicle
    local = (_opt(descriptor, "id") if v.HasField("vehicle") else None) or entity.id
    position = v.position
    record: dict[str, Any] = {
        "id": p.make_id("Vehicle", local),
        **p.envelope(_observed(_opt(v, "timestamp"), header_ts, p.fetched_at_ms)),
        "vehicle_id": _opt(descriptor, "id") if v.HasField("vehicle") else None,
        "vehicle_label": _opt(descriptor, "label") if v.HasField("vehicle") else None,
        "license_plate": _opt(descriptor, "license_plate") if v.HasField("vehicle") else None,
        **(_trip(v.trip) if v.HasField("trip") else _trip(rt.TripDescriptor())),
        # A position is required: a vehicle without one fails validation and is dead-lettered.
        "latitude": position.latitude if v.HasField("position") else None,
        "longitude": position.longitude if v.HasField("position") else None,
        "bearing": _opt(position, "bearing") if v.HasField("position") else None,
        "speed": _opt(position, "speed") if v.HasField("position") else None,
        "odometer": _opt(position, "odometer") if v.HasField("position") else None,
        "current_stop_sequence": _opt(v, "current_stop_sequence"),
        "stop_id": _opt(v, "stop_id"),
        "current_status": _enum_name(rt.VehiclePosition.VehicleStopStatus, v, "current_status"),
        "congestion_level": _enum_name(rt.VehiclePosition.CongestionLevel, v, "congestion_level"),
        "occupancy_status": _enum_name(rt.VehiclePosition.OccupancyStatus, v, "occupancy_status"),
        "occupancy_percentage": _opt(v, "occupancy_percentage"),
    }
    return record


def _stop_time_update(u: Any) -> dict[str, Any]:
    arrival = u.arrival if u.HasField("arrival") else None
    departure = u.departure if u.HasField("departure") else None

    def event(e: Any, name: str) -> Any:
        return _opt(e, name) if e is not None else None

    def at(e: Any) -> int | None:
        t = event(e, "time")
        return t * 1000 if t else None

    return {
        "stop_sequence": _opt(u, "stop_sequence"),
        "stop_id": _opt(u, "stop_id"),
        "arrival_delay": event(arrival, "delay"),
        "arrival_time": at(arrival),
        "arrival_uncertainty": event(arrival, "uncertainty"),
        "departure_delay": event(departure, "delay"),
        "departure_time": at(departure),
        "departure_uncertainty": event(departure, "uncertainty"),
        "schedule_relationship": _enum_name(
            rt.TripUpdate.StopTimeUpdate.ScheduleRelationship, u, "schedule_relationship"
        )
        or "SCHEDULED",
    }


def _trip_update(entity: Any, header_ts: int | None, p: Params) -> dict[str, Any]:
    t = entity.trip_update
    trip = _trip(t.trip)
    local = [trip["trip_id"] or entity.id]
    if trip["start_date"]:
        local.append(trip["start_date"])
    return {
        "id": p.make_id("TripUpdate", *local),
        **p.envelope(_observed(_opt(t, "timestamp"), header_ts, p.fetched_at_ms)),
        **trip,
        "vehicle_id": _opt(t.vehicle, "id") if t.HasField("vehicle") else None,
        "vehicle_label": _opt(t.vehicle, "label") if t.HasField("vehicle") else None,
        "delay": _opt(t, "delay"),
        "stop_time_updates": [_stop_time_update(u) for u in t.stop_time_update],
    }


def _alert(entity: Any, header_ts: int | None, p: Params) -> dict[str, Any]:
    a = entity.alert
    return {
        "id": p.make_id("Alert", entity.id),
        **p.envelope(_observed(None, header_ts, p.fetched_at_ms)),
        "alert_id": entity.id,
        "active_periods": [
            {
                "start": r.start * 1000 if r.HasField("start") else None,
                "end": r.end * 1000 if r.HasField("end") else None,
            }
            for r in a.active_period
        ],
        "informed_entities": [
            {
                "agency_id": _opt(s, "agency_id"),
                "route_id": _opt(s, "route_id"),
                "route_type": _opt(s, "route_type"),
                "direction_id": _opt(s, "direction_id"),
                "trip_id": _opt(s.trip, "trip_id") if s.HasField("trip") else None,
                "stop_id": _opt(s, "stop_id"),
                "station_id": None,
                "region_id": None,
            }
            for s in a.informed_entity
        ],
        "cause": _enum_name(rt.Alert.Cause, a, "cause") or "UNKNOWN_CAUSE",
        "effect": _enum_name(rt.Alert.Effect, a, "effect") or "UNKNOWN_EFFECT",
        "severity_level": _enum_name(rt.Alert.SeverityLevel, a, "severity_level")
        or "UNKNOWN_SEVERITY",
        "header_text": _translated(a.header_text),
        "description_text": _translated(a.description_text),
        "url": _translated(a.url),
    }


def parse_feed(body: bytes, p: Params) -> Iterator[Normalised]:
    """Every entity of the feed as a canonical record; MalformedRealtimeError for bytes that
    are not a FeedMessage. Duplicate entities (same kind and id) keep the last one."""
    message = rt.FeedMessage()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise MalformedRealtimeError(f"not a GTFS-Realtime FeedMessage: {exc}") from exc
    if not message.HasField("header"):
        raise MalformedRealtimeError("not a GTFS-Realtime FeedMessage: no header")
    header_ts = _opt(message.header, "timestamp")
    latest: dict[tuple[str, str], Normalised] = {}
    for entity in message.entity:
        if entity.is_deleted:
            continue
        if entity.HasField("vehicle"):
            record = _vehicle(entity, header_ts, p)
            latest[("vehicle_positions", record["id"])] = Normalised("vehicle_positions", record)
        if entity.HasField("trip_update"):
            record = _trip_update(entity, header_ts, p)
            latest[("trip_updates", record["id"])] = Normalised("trip_updates", record)
        if entity.HasField("alert"):
            record = _alert(entity, header_ts, p)
            latest[("alerts", record["id"])] = Normalised("alerts", record)
    yield from latest.values()
