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

from adapters.base import MalformedFeedError

__all__ = [
    "ID_TYPES",
    "Normalised",
    "Params",
    "decode",
    "is_full_dataset",
    "normalise",
    "parse_feed",
]

# The type in each entity's global ids; the adapter retires a complete feed by it.
_VEHICLE, _TRIP_UPDATE, _ALERT = "Vehicle", "TripUpdate", "Alert"
ID_TYPES = {"vehicle_positions": _VEHICLE, "trip_updates": _TRIP_UPDATE, "alerts": _ALERT}


@dataclass(frozen=True)
class Params:
    """What records need besides the bytes."""

    make_id: Callable[..., str]  # (urn type, *local parts) -> global id
    envelope: Callable[[int], dict[str, Any]]  # observed_at ms -> area, source_feed...
    fetched_at_ms: int


@dataclass(slots=True)  # one per entity: not frozen, which costs 2.5 times as much to make
class Normalised:
    """One canonical record and the entity kind it is."""

    entity: str  # vehicle_positions | trip_updates | alerts
    record: dict[str, Any]


class MalformedRealtimeError(MalformedFeedError, ValueError):
    """The bytes are not a GTFS-Realtime FeedMessage."""


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _enum_name(enum: Any, message: Any, name: str) -> str | None:
    if not message.HasField(name):
        return None
    return str(enum.Name(getattr(message, name)))


_NO_TRIP: dict[str, Any] = dict.fromkeys(
    ("trip_id", "route_id", "direction_id", "start_date", "start_time")
) | {"trip_schedule_relationship": None}


def _trip(trip: Any) -> dict[str, Any]:
    # `has` and the inlined tests instead of _opt: a 100,000-vehicle feed makes millions of
    # these calls, and the call overhead was a third of the adapter's time.
    has = trip.HasField
    return {
        "trip_id": trip.trip_id if has("trip_id") else None,
        "route_id": trip.route_id if has("route_id") else None,
        "direction_id": trip.direction_id if has("direction_id") else None,
        "start_date": trip.start_date if has("start_date") else None,
        "start_time": trip.start_time if has("start_time") else None,
        "trip_schedule_relationship": _SCHEDULE[trip.schedule_relationship]
        if has("schedule_relationship")
        else None,
    }


def _translated(text: Any) -> list[dict[str, str]]:
    return [{"text": t.text, "language": t.language or "und"} for t in text.translation if t.text]


def _observed(entity_ts: int | None, header_ts: int | None, fetched_at_ms: int) -> int:
    if entity_ts:
        return entity_ts * 1000
    if header_ts:
        return header_ts * 1000
    return fetched_at_ms


def _names(enum: Any) -> dict[int, str]:
    return {value.number: value.name for value in enum.DESCRIPTOR.values}


_SCHEDULE = _names(rt.TripDescriptor.ScheduleRelationship)
_STOP_STATUS = _names(rt.VehiclePosition.VehicleStopStatus)
_CONGESTION = _names(rt.VehiclePosition.CongestionLevel)
_OCCUPANCY = _names(rt.VehiclePosition.OccupancyStatus)
# GTFS-RT says NO_VALUE or UNKNOWN where the schema's three-valued GTFS field says NO_INFO.
_WHEELCHAIR = {
    rt.VehicleDescriptor.NO_VALUE: "NO_INFO",
    rt.VehicleDescriptor.UNKNOWN: "NO_INFO",
    rt.VehicleDescriptor.WHEELCHAIR_ACCESSIBLE: "ACCESSIBLE",
    rt.VehicleDescriptor.WHEELCHAIR_INACCESSIBLE: "NOT_ACCESSIBLE",
}


def _vehicle(entity: Any, header_ts: int | None, p: Params) -> dict[str, Any]:
    v = entity.vehicle
    has = v.HasField
    if has("vehicle"):
        d = v.vehicle
        has_d = d.HasField
        vehicle_id = d.id if has_d("id") else None
        label = d.label if has_d("label") else None
        plate = d.license_plate if has_d("license_plate") else None
        wheelchair = _WHEELCHAIR[d.wheelchair_accessible]
    else:
        vehicle_id = label = plate = None
        wheelchair = "NO_INFO"
    # A position is required: a vehicle without one fails validation and is dead-lettered.
    if has("position"):
        pos = v.position
        has_p = pos.HasField
        latitude, longitude = pos.latitude, pos.longitude
        bearing = pos.bearing if has_p("bearing") else None
        speed = pos.speed if has_p("speed") else None
        odometer = pos.odometer if has_p("odometer") else None
    else:
        latitude = longitude = bearing = speed = odometer = None
    record: dict[str, Any] = {
        "id": p.make_id(_VEHICLE, vehicle_id or entity.id),
        **p.envelope(
            _observed(v.timestamp if has("timestamp") else None, header_ts, p.fetched_at_ms)
        ),
        "vehicle_id": vehicle_id,
        "vehicle_label": label,
        "license_plate": plate,
        "wheelchair_accessible": wheelchair,
        **(_trip(v.trip) if has("trip") else _NO_TRIP),
        "latitude": latitude,
        "longitude": longitude,
        "bearing": bearing,
        "speed": speed,
        "odometer": odometer,
        "current_stop_sequence": v.current_stop_sequence if has("current_stop_sequence") else None,
        "stop_id": v.stop_id if has("stop_id") else None,
        "current_status": _STOP_STATUS[v.current_status] if has("current_status") else None,
        "congestion_level": _CONGESTION[v.congestion_level] if has("congestion_level") else None,
        "occupancy_status": _OCCUPANCY[v.occupancy_status] if has("occupancy_status") else None,
        "occupancy_percentage": v.occupancy_percentage if has("occupancy_percentage") else None,
        "carriages": _carriages(v.multi_carriage_details),
    }
    return record


def _carriages(details: Any) -> list[dict[str, Any]]:
    """Per-carriage occupancy, in carriage_sequence order (the spec does not order them)."""
    if not details:
        return []
    carriages = [
        {
            "carriage_id": _opt(c, "id"),
            "label": _opt(c, "label"),
            "occupancy_status": _OCCUPANCY[c.occupancy_status]
            if c.HasField("occupancy_status")
            else None,
            # -1 is the spec's "no data", and its default.
            "occupancy_percentage": c.occupancy_percentage
            if c.HasField("occupancy_percentage") and c.occupancy_percentage >= 0
            else None,
            "carriage_sequence": c.carriage_sequence,
        }
        for c in details
    ]
    carriages.sort(key=lambda c: int(c["carriage_sequence"]))
    return carriages


def _stop_time_update(u: Any) -> dict[str, Any]:
    arrival = u.arrival if u.HasField("arrival") else None
    departure = u.departure if u.HasField("departure") else None

    def event(e: Any, name: str) -> Any:
        return _opt(e, name) if e is not None else None

    def at(e: Any, name: str = "time") -> int | None:
        t = event(e, name)
        return t * 1000 if t else None

    properties = u.stop_time_properties if u.HasField("stop_time_properties") else None
    return {
        "stop_sequence": _opt(u, "stop_sequence"),
        "stop_id": _opt(u, "stop_id"),
        "assigned_stop_id": _opt(properties, "assigned_stop_id") if properties else None,
        "arrival_delay": event(arrival, "delay"),
        "arrival_time": at(arrival),
        "arrival_uncertainty": event(arrival, "uncertainty"),
        "arrival_scheduled_time": at(arrival, "scheduled_time"),
        "departure_delay": event(departure, "delay"),
        "departure_time": at(departure),
        "departure_uncertainty": event(departure, "uncertainty"),
        "departure_scheduled_time": at(departure, "scheduled_time"),
        "departure_occupancy_status": _enum_name(
            rt.VehiclePosition.OccupancyStatus, u, "departure_occupancy_status"
        ),
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
        "id": p.make_id(_TRIP_UPDATE, *local),
        **p.envelope(_observed(_opt(t, "timestamp"), header_ts, p.fetched_at_ms)),
        **trip,
        "vehicle_id": _opt(t.vehicle, "id") if t.HasField("vehicle") else None,
        "vehicle_label": _opt(t.vehicle, "label") if t.HasField("vehicle") else None,
        "license_plate": _opt(t.vehicle, "license_plate") if t.HasField("vehicle") else None,
        "delay": _opt(t, "delay"),
        "stop_time_updates": [_stop_time_update(u) for u in t.stop_time_update],
        "trip_properties": _trip_properties(t.trip_properties)
        if t.HasField("trip_properties")
        else None,
    }


def _trip_properties(properties: Any) -> dict[str, Any]:
    return {name: _opt(properties, name) for name in _TRIP_PROPERTIES}


_TRIP_PROPERTIES = (
    "trip_id",
    "start_date",
    "start_time",
    "shape_id",
    "trip_headsign",
    "trip_short_name",
)


def _alert(entity: Any, header_ts: int | None, p: Params) -> dict[str, Any]:
    a = entity.alert
    return {
        "id": p.make_id(_ALERT, entity.id),
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
        "cause_detail": _translated(a.cause_detail),
        "effect_detail": _translated(a.effect_detail),
        "header_text": _translated(a.header_text),
        "description_text": _translated(a.description_text),
        "tts_header_text": _translated(a.tts_header_text),
        "tts_description_text": _translated(a.tts_description_text),
        "url": _translated(a.url),
        "images": [
            {"url": i.url, "media_type": i.media_type, "language": i.language or None}
            for i in a.image.localized_image
        ],
        "image_alternative_text": _translated(a.image_alternative_text),
    }


def parse_feed(body: bytes, p: Params) -> Iterator[Normalised]:
    """Every entity of the feed as a canonical record; MalformedRealtimeError for bytes that
    are not a FeedMessage. Duplicate entities (same kind and id) keep the last one."""
    return normalise(decode(body), p)


def decode(body: bytes) -> Any:
    """The FeedMessage in ``body``; MalformedRealtimeError for bytes that are not one."""
    message = rt.FeedMessage()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise MalformedRealtimeError(f"not a GTFS-Realtime FeedMessage: {exc}") from exc
    if not message.HasField("header"):
        raise MalformedRealtimeError("not a GTFS-Realtime FeedMessage: no header")
    return message


def is_full_dataset(message: Any) -> bool:
    """True when the message holds every current entity (the default incrementality)."""
    return bool(message.header.incrementality == rt.FeedHeader.FULL_DATASET)


def normalise(message: Any, p: Params) -> Iterator[Normalised]:
    """Every entity of a decoded FeedMessage as a canonical record (see ``parse_feed``)."""
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
