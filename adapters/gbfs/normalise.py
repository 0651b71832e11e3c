"""GBFS 2.3 and 3.0 documents -> canonical records (pure: no network, no clock).

The two versions differ in ways the records do not: 2.3 stamps times as POSIX seconds
and names as plain strings in the language of its ``gbfs.json`` key, 3.0 stamps RFC 3339
and gives names as ``[{text, language}]``; ``free_bike_status``/``bikes`` became
``vehicle_status``/``vehicles``; station capacities moved from maps to lists.
Stations are ``station_information`` joined with ``station_status`` on ``station_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

__all__ = ["ID_TYPES", "Params", "alerts", "discovery", "stations", "vehicle_types", "vehicles"]

Record = dict[str, Any]
Doc = Mapping[str, Any]

# The type in each entity's global ids; the adapter retires a complete file by it.
ID_TYPES = {
    "stations": "SharedMobilityStation",
    "vehicles": "SharedVehicle",
    "vehicle_types": "VehicleType",
    "alerts": "Alert",
}


@dataclass(frozen=True)
class Params:
    """What records need besides the documents."""

    make_id: Callable[..., str]  # (urn type, *local parts) -> global id
    envelope: Callable[[int], Record]  # observed_at ms -> area, source_feed...
    system_id: str
    language: str  # the language of plain-string names (2.3) and of ``name``
    fetched_at_ms: int


def millis(value: Any) -> int | None:
    """A GBFS time (POSIX seconds in 2.3, RFC 3339 in 3.0) as epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value * 1000)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)


def discovery(doc: Doc, language: str | None) -> tuple[dict[str, str], str]:
    """(file name -> URL, language) from a ``gbfs.json`` of either version."""
    data = doc.get("data", {})
    if "feeds" in data:  # 3.0: no language key
        return {f["name"]: f["url"] for f in data["feeds"]}, language or ""
    if not data:
        return {}, language or ""
    chosen = language if language is not None and language in data else str(next(iter(data)))
    return {f["name"]: f["url"] for f in data[chosen]["feeds"]}, chosen


def _texts(value: Any, language: str) -> tuple[str | None, list[dict[str, str]]]:
    """(name in ``language`` or the first, every translation) of a 2.3 or 3.0 name."""
    if value is None:
        return None, []
    if isinstance(value, str):
        return value, [{"text": value, "language": language or "und"}]
    translations = [{"text": t["text"], "language": t.get("language") or "und"} for t in value]
    preferred = next((t["text"] for t in translations if t["language"] == language), None)
    return preferred or (translations[0]["text"] if translations else None), translations


def _observed(item: Doc, doc: Doc, p: Params, key: str = "last_reported") -> int:
    return millis(item.get(key)) or millis(doc.get("last_updated")) or p.fetched_at_ms


def _by_type(value: Any, list_key: str) -> list[dict[str, Any]]:
    """2.3 ``{type_id: count}`` maps and 3.0 ``[{vehicle_type_ids, count}]`` lists alike."""
    if isinstance(value, Mapping):
        return [{"vehicle_type_ids": [k], "count": int(v)} for k, v in value.items()]
    return [{"vehicle_type_ids": list(e[list_key]), "count": int(e["count"])} for e in value or []]


def _rental_urls(item: Doc) -> dict[str, str | None]:
    uris = item.get("rental_uris") or {}
    return {
        "rental_url_web": uris.get("web"),
        "rental_url_android": uris.get("android"),
        "rental_url_ios": uris.get("ios"),
    }


def stations(information: Doc, status: Doc | None, p: Params) -> Iterator[Record]:
    """One record per station of ``station_information``, with its status when given."""
    statuses = {s["station_id"]: s for s in (status or {}).get("data", {}).get("stations", [])}
    for info in information["data"]["stations"]:
        sid = info["station_id"]
        state = statuses.get(sid, {})
        name, names = _texts(info.get("name"), p.language)
        short, shorts = _texts(info.get("short_name"), p.language)
        area = info.get("station_area")
        observed = (
            _observed(state, status, p) if state and status else _observed({}, information, p)
        )
        capacity_2_3 = info.get("vehicle_capacity")  # 2.3: vehicles per type
        record: Record = {
            "id": p.make_id(ID_TYPES["stations"], p.system_id, sid),
            **p.envelope(observed),
            "system_id": p.system_id,
            "station_id": sid,
            "name": name or sid,
            "name_translations": names,
            "short_name": short,
            "short_name_translations": shorts,
            "latitude": float(info["lat"]),
            "longitude": float(info["lon"]),
            "address": info.get("address"),
            "post_code": info.get("post_code"),
            "cross_street": info.get("cross_street"),
            "region_id": info.get("region_id"),
            "contact_phone": info.get("contact_phone"),
            "station_opening_hours": info.get("station_opening_hours"),
            "rental_methods": [str(m).lower() for m in info.get("rental_methods", [])],
            "capacity": info.get("capacity"),
            "vehicle_types_capacity": _by_type(
                info.get("vehicle_types_capacity", capacity_2_3), "vehicle_type_ids"
            ),
            "vehicle_docks_capacity": _by_type(
                info.get("vehicle_docks_capacity", info.get("vehicle_type_capacity")),
                "vehicle_type_ids",
            ),
            "is_virtual_station": bool(info.get("is_virtual_station", False)),
            "is_charging_station": info.get("is_charging_station"),
            "parking_type": info.get("parking_type"),
            "parking_hoop": info.get("parking_hoop"),
            "is_valet_station": info.get("is_valet_station"),
            "station_area": orjson.dumps(area).decode() if area is not None else None,
            **_rental_urls(info),
            "num_vehicles_available": state.get(
                "num_vehicles_available", state.get("num_bikes_available")
            ),
            "num_vehicles_disabled": state.get(
                "num_vehicles_disabled", state.get("num_bikes_disabled")
            ),
            "num_docks_available": state.get("num_docks_available"),
            "num_docks_disabled": state.get("num_docks_disabled"),
            "is_installed": state.get("is_installed"),
            "is_renting": state.get("is_renting"),
            "is_returning": state.get("is_returning"),
            "last_reported": millis(state.get("last_reported")),
            "vehicle_types_available": [
                {"vehicle_type_id": e["vehicle_type_id"], "count": int(e["count"])}
                for e in state.get("vehicle_types_available", [])
            ],
            "vehicle_docks_available": _by_type(
                state.get("vehicle_docks_available"), "vehicle_type_ids"
            ),
        }
        yield record


def vehicles(doc: Doc, p: Params) -> Iterator[Record]:
    """Vehicles of ``vehicle_status`` (3.0) or bikes of ``free_bike_status`` (2.3)."""
    data = doc["data"]
    for item in data.get("vehicles", data.get("bikes", [])):
        vid = item.get("vehicle_id", item.get("bike_id"))
        yield {
            "id": p.make_id(ID_TYPES["vehicles"], p.system_id, vid),
            **p.envelope(_observed(item, doc, p)),
            "system_id": p.system_id,
            "vehicle_id": vid,
            "latitude": item.get("lat"),
            "longitude": item.get("lon"),
            "station_id": item.get("station_id"),
            "home_station_id": item.get("home_station_id"),
            "is_reserved": bool(item.get("is_reserved", False)),
            "is_disabled": bool(item.get("is_disabled", False)),
            "vehicle_type_id": item.get("vehicle_type_id"),
            "current_range_meters": _float(item.get("current_range_meters")),
            "current_fuel_percent": _float(item.get("current_fuel_percent")),
            "last_reported": millis(item.get("last_reported")),
            "pricing_plan_id": item.get("pricing_plan_id"),
            "vehicle_equipment": list(item.get("vehicle_equipment", [])),
            "available_until": millis(item.get("available_until")),
            **_rental_urls(item),
        }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


_FORM_FACTORS = {
    "bicycle": "BICYCLE",
    "cargo_bicycle": "CARGO_BICYCLE",
    "car": "CAR",
    "moped": "MOPED",
    "scooter": "SCOOTER",  # 2.3; 3.0 splits it into standing and seated
    "scooter_standing": "SCOOTER_STANDING",
    "scooter_seated": "SCOOTER_SEATED",
}


_PROPULSION = {
    v.lower(): v
    for v in (
        "HUMAN",
        "ELECTRIC_ASSIST",
        "ELECTRIC",
        "COMBUSTION",
        "COMBUSTION_DIESEL",
        "HYBRID",
        "PLUG_IN_HYBRID",
        "HYDROGEN_FUEL_CELL",
    )
}


def vehicle_types(doc: Doc, p: Params) -> Iterator[Record]:
    """The system's vehicle types."""
    for item in doc["data"]["vehicle_types"]:
        tid = item["vehicle_type_id"]
        name, names = _texts(item.get("name"), p.language)
        description, descriptions = _texts(item.get("description"), p.language)
        assets = item.get("vehicle_assets") or {}
        yield {
            "id": p.make_id(ID_TYPES["vehicle_types"], p.system_id, tid),
            **p.envelope(_observed({}, doc, p)),
            "system_id": p.system_id,
            "vehicle_type_id": tid,
            "form_factor": _FORM_FACTORS.get(item.get("form_factor", ""), "OTHER"),
            "propulsion_type": _PROPULSION.get(str(item.get("propulsion_type")), "OTHER"),
            "name": name,
            "name_translations": names,
            "description": description,
            "description_translations": descriptions,
            "make": item.get("make"),
            "model": item.get("model"),
            "color": item.get("color"),
            "vehicle_image": item.get("vehicle_image"),
            "icon_url": assets.get("icon_url"),
            "icon_url_dark": assets.get("icon_url_dark"),
            "icon_last_modified": assets.get("icon_last_modified"),
            "max_range_meters": _float(item.get("max_range_meters")),
            "max_permitted_speed": _float(item.get("max_permitted_speed")),
            "wheel_count": item.get("wheel_count"),
            "rider_capacity": item.get("rider_capacity"),
            "cargo_volume_capacity": item.get("cargo_volume_capacity"),
            "cargo_load_capacity": item.get("cargo_load_capacity"),
            "rated_power": item.get("rated_power"),
            "g_co2_km": item.get("g_CO2_km"),
            "eco_labels": [
                {"country_code": e["country_code"], "eco_sticker": e["eco_sticker"]}
                for e in item.get("eco_labels", item.get("eco_label", []))
            ],
            "vehicle_accessories": list(item.get("vehicle_accessories", [])),
            "default_reserve_time": item.get("default_reserve_time"),
            "return_constraint": item.get("return_constraint"),
            "default_pricing_plan_id": item.get("default_pricing_plan_id"),
            "pricing_plan_ids": list(item.get("pricing_plan_ids", [])),
        }


def alerts(doc: Doc, p: Params) -> Iterator[Record]:
    """System alerts, with the stations and regions they concern as informed entities."""
    for item in doc["data"]["alerts"]:
        summary, summaries = _texts(item.get("summary"), p.language)
        description, descriptions = _texts(item.get("description"), p.language)
        _, urls = _texts(item.get("url"), p.language)
        del summary, description
        informed = [_selector(station_id=s) for s in item.get("station_ids", [])]
        informed += [_selector(region_id=r) for r in item.get("region_ids", [])]
        kind = str(item.get("type", "other")).upper()
        yield {
            "id": p.make_id(ID_TYPES["alerts"], p.system_id, item["alert_id"]),
            **p.envelope(_observed(item, doc, p, "last_updated")),
            "alert_id": item["alert_id"],
            "active_periods": [
                {"start": millis(t.get("start")), "end": millis(t.get("end"))}
                for t in item.get("times", [])
            ],
            "informed_entities": informed,
            "cause": "UNKNOWN_CAUSE",
            "effect": "UNKNOWN_EFFECT",
            "severity_level": "UNKNOWN_SEVERITY",
            "gbfs_alert_type": kind
            if kind in ("SYSTEM_CLOSURE", "STATION_CLOSURE", "STATION_MOVE")
            else "OTHER",
            "header_text": summaries,
            "description_text": descriptions,
            "url": urls,
            "cause_detail": [],
            "effect_detail": [],
            "tts_header_text": [],
            "tts_description_text": [],
            "images": [],
            "image_alternative_text": [],
        }


def _selector(**given: str) -> dict[str, Any]:
    keys = ("agency_id", "route_id", "route_type", "direction_id", "trip_id", "stop_id")
    return {**dict.fromkeys(keys), "station_id": None, "region_id": None, **given}
