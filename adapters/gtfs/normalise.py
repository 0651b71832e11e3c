"""The second pass: rows of a feed that passed ``check_feed`` -> canonical records.

Pure apart from reading the archive: no network, no clock. Tables are streamed in the
order stops, routes, trips, stop_times, so memory does not grow with the feed.
Names get their translations (GTFS or the old GTFS-JP layout; kana as ``ja-Hrkt``);
routes get their agency's name and the GTFS-JP ``routes_jp.txt`` details.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from adapters.gtfs import values as v
from adapters.gtfs.check import FeedIndex

__all__ = ["ID_TYPES", "Params", "records"]

Record = dict[str, Any]
Progress = Callable[[str, int, int | None], None]

# The type in each entity's global ids; the adapter retires a complete table by it.
_STOP, _ROUTE, _TRIP, _STOP_TIME = "Stop", "Route", "Trip", "StopTime"
ID_TYPES = {"stops": _STOP, "routes": _ROUTE, "trips": _TRIP, "stop_times": _STOP_TIME}


@dataclass(frozen=True)
class Params:
    """What records need besides the rows."""

    make_id: Callable[..., str]  # (urn type, *local parts) -> global id
    envelope: Record  # area, source_feed, observed_at, ingested_at
    progress: Progress | None = None


def records(index: FeedIndex, p: Params) -> Iterator[tuple[str, Record]]:
    """(entity, record) for every stop, route, trip and stop time of the feed."""
    for name, entity, convert in (
        ("stops.txt", "stops", _stop),
        ("routes.txt", "routes", _route),
        ("trips.txt", "trips", _trip),
        ("stop_times.txt", "stop_times", _stop_time),
    ):
        table = index.tables.get(name)
        if table is None:
            continue
        columns = index.columns[name]
        make = convert(index, columns.__getitem__, p)
        total = index.rows.get(name)
        for count, (_, row) in enumerate(table.rows(), 1):
            yield entity, make(columns.pad(row))
            if p.progress is not None and not count % 50_000:
                p.progress(name, count, total)
        if p.progress is not None and total:
            p.progress(name, total, total)


Maker = Callable[[list[str]], Record]


def _stop(index: FeedIndex, c: Callable[[str], int], p: Params) -> Maker:
    tr = index.translations.lookup
    stop_id, name, lat, lon = c("stop_id"), c("stop_name"), c("stop_lat"), c("stop_lon")
    cols = {
        k: c(k)
        for k in (
            "stop_code",
            "tts_stop_name",
            "stop_desc",
            "zone_id",
            "stop_url",
            "parent_station",
            "stop_timezone",
            "level_id",
            "platform_code",
        )
    }

    def make(row: list[str]) -> Record:
        sid = row[stop_id]
        o = {k: row[i] or None for k, i in cols.items()}
        return {
            "id": p.make_id(_STOP, sid),
            **p.envelope,
            "stop_id": sid,
            "stop_code": o["stop_code"],
            "name": row[name] or None,
            "name_translations": tr("stops", "stop_name", row[name], sid),
            "tts_name": o["tts_stop_name"],
            "description": o["stop_desc"],
            "latitude": v.opt_float(row[lat]),
            "longitude": v.opt_float(row[lon]),
            "zone_id": o["zone_id"],
            "stop_url": o["stop_url"],
            "location_type": v.code(row[c("location_type")], v.LOCATION_TYPES, "location_type"),
            "parent_station": o["parent_station"],
            "timezone": o["stop_timezone"],
            "wheelchair_boarding": v.code(
                row[c("wheelchair_boarding")], v.ACCESSIBILITY, "wheelchair_boarding"
            ),
            "level_id": o["level_id"],
            "platform_code": o["platform_code"],
            "stop_access": v.opt_int(row[c("stop_access")]),
        }

    return make


def _route(index: FeedIndex, c: Callable[[str], int], p: Params) -> Maker:
    tr = index.translations.lookup
    agencies = index.agencies
    only_agency = next(iter(agencies.values())) if len(agencies) == 1 else None
    jp = index.routes_jp
    jc = index.columns.get("routes_jp.txt")

    def jp_cell(route: str, column: str) -> str | None:
        row = jp.get(route)
        return (row[jc[column]] or None) if row is not None and jc is not None else None

    def make(row: list[str]) -> Record:
        rid = row[c("route_id")]
        agency = row[c("agency_id")]
        short, long = row[c("route_short_name")], row[c("route_long_name")]
        return {
            "id": p.make_id(_ROUTE, rid),
            **p.envelope,
            "route_id": rid,
            "agency_id": agency or None,
            "agency_name": agencies.get(agency, only_agency),
            "network_id": row[c("network_id")] or None,
            "short_name": short or None,
            "short_name_translations": tr("routes", "route_short_name", short, rid),
            "long_name": long or None,
            "long_name_translations": tr("routes", "route_long_name", long, rid),
            "description": row[c("route_desc")] or None,
            "route_type": int(row[c("route_type")]),
            "route_url": row[c("route_url")] or None,
            "color": row[c("route_color")] or None,
            "text_color": row[c("route_text_color")] or None,
            "sort_order": v.opt_int(row[c("route_sort_order")]),
            "continuous_pickup": v.opt_int(row[c("continuous_pickup")]),
            "continuous_drop_off": v.opt_int(row[c("continuous_drop_off")]),
            "jp_parent_route_id": row[c("jp_parent_route_id")] or None,
            "jp_route_update_date": jp_cell(rid, "route_update_date"),
            "jp_origin_stop": jp_cell(rid, "origin_stop"),
            "jp_via_stop": jp_cell(rid, "via_stop"),
            "jp_destination_stop": jp_cell(rid, "destination_stop"),
        }

    return make


def _trip(index: FeedIndex, c: Callable[[str], int], p: Params) -> Maker:
    tr = index.translations.lookup
    optional = {
        "short_name": c("trip_short_name"),
        "block_id": c("block_id"),
        "shape_id": c("shape_id"),
        "jp_trip_desc": c("jp_trip_desc"),
        "jp_trip_desc_symbol": c("jp_trip_desc_symbol"),
        "jp_office_id": c("jp_office_id"),
        "jp_pattern_id": c("jp_pattern_id"),
    }
    access = {
        "wheelchair_accessible": c("wheelchair_accessible"),
        "bikes_allowed": c("bikes_allowed"),
        "cars_allowed": c("cars_allowed"),
    }

    def make(row: list[str]) -> Record:
        tid = row[c("trip_id")]
        headsign = row[c("trip_headsign")]
        record: Record = {
            "id": p.make_id(_TRIP, tid),
            **p.envelope,
            "trip_id": tid,
            "route_id": row[c("route_id")],
            "service_id": row[c("service_id")],
            "headsign": headsign or None,
            "headsign_translations": tr("trips", "trip_headsign", headsign, tid),
            "direction_id": v.opt_int(row[c("direction_id")]),
        }
        for key, i in optional.items():
            record[key] = row[i] or None
        for key, i in access.items():
            record[key] = v.code(row[i], v.ACCESSIBILITY, key)
        return record

    return make


def _stop_time(index: FeedIndex, c: Callable[[str], int], p: Params) -> Maker:
    # Run once per row of the largest table, tens of millions in a national feed: what
    # repeats (a trip's id over its stops, the times of a timetable, absent columns) is
    # worked out once.
    tr = index.translations.lookup
    make_id, envelope = p.make_id, p.envelope
    trip_i, seq_i, stop_i = c("trip_id"), c("stop_sequence"), c("stop_id")
    arr_i, dep_i, head_i = c("arrival_time"), c("departure_time"), c("stop_headsign")
    pick_i, drop_i = c("pickup_type"), c("drop_off_type")
    dist_i, timepoint_i = c("shape_dist_traveled"), c("timepoint")
    optional: dict[str, tuple[int, Callable[[str], Any]]] = {
        **{
            k: (c(k), _text)
            for k in (
                "location_group_id",
                "location_id",
                "pickup_booking_rule_id",
                "drop_off_booking_rule_id",
            )
        },
        **{k: (c(k), v.opt_int) for k in ("continuous_pickup", "continuous_drop_off")},
        **{
            k: (c(k), v.opt_time)
            for k in ("start_pickup_drop_off_window", "end_pickup_drop_off_window")
        },
    }
    padding = index.columns["stop_times.txt"].width  # where absent columns point: always ""
    present = {k: ip for k, ip in optional.items() if ip[0] != padding}
    missing = {k: None for k in optional if k not in present}
    seconds = functools.lru_cache(maxsize=100_000)(v.opt_time)
    code, pd = v.code, v.PICKUP_DROP_OFF
    pickup_drop_off = {"": pd[0], **{str(i): symbol for i, symbol in enumerate(pd)}}
    timepoints = {"": None, "0": False, "1": True}
    run_trip: str | None = None  # the trip of the previous row, and the start of its ids
    run_prefix = ""

    def make(row: list[str]) -> Record:
        nonlocal run_trip, run_prefix
        trip, seq, headsign = row[trip_i], row[seq_i], row[head_i]
        if trip != run_trip:
            # make_id joins the parts of a local id with ":" (see adapters.base.urn); the
            # sequence, ASCII digits after the check, is URN-safe as it is.
            run_trip, run_prefix = trip, make_id(_STOP_TIME, trip) + ":"
        pickup, drop_off = row[pick_i], row[drop_i]
        record: Record = {
            "id": run_prefix + seq if seq.isascii() else make_id(_STOP_TIME, trip, seq),
            **envelope,
            "trip_id": trip,
            "stop_sequence": int(seq),
            "stop_id": row[stop_i] or None,
            "arrival_time": seconds(row[arr_i]),
            "departure_time": seconds(row[dep_i]),
            "stop_headsign": headsign or None,
            "stop_headsign_translations": tr("stop_times", "stop_headsign", headsign, trip, seq),
            "pickup_type": pickup_drop_off.get(pickup) or code(pickup, pd, "pickup_type"),
            "drop_off_type": pickup_drop_off.get(drop_off) or code(drop_off, pd, "drop_off_type"),
            "shape_dist_traveled": v.opt_float(row[dist_i]),
            "timepoint": timepoints[row[timepoint_i]],  # "", 0 or 1 after the check
            **missing,
        }
        for key, (i, parse) in present.items():
            record[key] = parse(row[i])
        return record

    return make


def _text(cell: str) -> str | None:
    return cell or None
