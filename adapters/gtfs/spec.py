"""What a GTFS (and GTFS-JP) feed is made of: files, required columns, known columns.

Only what the adapter checks or reads is listed. Known columns let the adapter tell a
publisher about a misspelt header (``stop_uri`` for ``stop_url``) without rejecting the
feed: extra columns are allowed by the specification.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FILES", "REQUIRED_FILES", "GtfsFile"]


@dataclass(frozen=True)
class GtfsFile:
    """One table of the feed."""

    name: str
    required: tuple[str, ...]  # columns that must be in the header
    known: tuple[str, ...]  # every column the specification defines (required included)


def _file(name: str, required: str, optional: str) -> GtfsFile:
    req = tuple(required.split())
    return GtfsFile(name, req, req + tuple(optional.split()))


FILES: dict[str, GtfsFile] = {
    f.name: f
    for f in (
        _file(
            "agency.txt",
            "agency_name agency_url agency_timezone",
            "agency_id agency_lang agency_phone agency_fare_url agency_email cemv_support",
        ),
        _file(
            "stops.txt",
            "stop_id",
            "stop_code stop_name tts_stop_name stop_desc stop_lat stop_lon zone_id stop_url "
            "location_type parent_station stop_timezone wheelchair_boarding level_id "
            "platform_code stop_access",
        ),
        _file(
            "routes.txt",
            "route_id route_type",
            "agency_id route_short_name route_long_name route_desc route_url route_color "
            "route_text_color route_sort_order continuous_pickup continuous_drop_off "
            "network_id cemv_support jp_parent_route_id",
        ),
        _file(
            "trips.txt",
            "route_id service_id trip_id",
            "trip_headsign trip_short_name direction_id block_id shape_id "
            "wheelchair_accessible bikes_allowed cars_allowed jp_trip_desc "
            "jp_trip_desc_symbol jp_office_id jp_pattern_id",
        ),
        _file(
            "stop_times.txt",
            "trip_id stop_sequence",
            "arrival_time departure_time stop_id location_group_id location_id stop_headsign "
            "start_pickup_drop_off_window end_pickup_drop_off_window pickup_type "
            "drop_off_type continuous_pickup continuous_drop_off shape_dist_traveled "
            "timepoint pickup_booking_rule_id drop_off_booking_rule_id",
        ),
        _file(
            "calendar.txt",
            "service_id monday tuesday wednesday thursday friday saturday sunday "
            "start_date end_date",
            "",
        ),
        _file("calendar_dates.txt", "service_id date exception_type", ""),
        _file(
            "translations.txt",
            "",
            # both layouts: GTFS (table_name ...) and the old GTFS-JP one (trans_id ...)
            "table_name field_name language translation record_id record_sub_id "
            "field_value trans_id lang",
        ),
        # GTFS-JP
        _file(
            "agency_jp.txt",
            "agency_id",
            "agency_official_name agency_zip_number agency_address agency_president_pos "
            "agency_president_name",
        ),
        _file("office_jp.txt", "office_id office_name", "office_url office_phone"),
        _file(
            "routes_jp.txt",
            "route_id",
            "route_update_date origin_stop via_stop destination_stop",
        ),
        _file(
            "pattern_jp.txt",
            "jp_pattern_id",
            "route_update_date origin_stop via_stop destination_stop",
        ),
    )
}

# Without these there is no timetable to publish (calendar.txt or calendar_dates.txt is
# checked separately: either will do).
REQUIRED_FILES = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
