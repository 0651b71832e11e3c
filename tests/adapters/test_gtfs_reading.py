"""GTFS static and GTFS-JP, without a network: the real sample feeds are read, checked and
normalised; every broken feed of google/transitfeed is rejected with a located message."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import fastavro
import pytest

from adapters.base import MalformedFeedError, urn
from adapters.gtfs.check import FeedIndex, check_feed
from adapters.gtfs.normalise import Params, records
from adapters.gtfs.reader import ZipLimits, open_zip
from adapters.gtfs.values import gtfs_time
from hub.schemas import SchemaCatalogue
from tests.adapters.gtfs_feeds import BROKEN, GTFS, KUMAMOTO, REPO, changed, tables_of, zip_of

CATALOGUE = SchemaCatalogue.load(REPO / "schemas" / "avro")
SCHEMAS = {
    "stops": "tsunagu.mobility.Stop",
    "routes": "tsunagu.mobility.Route",
    "trips": "tsunagu.mobility.Trip",
    "stop_times": "tsunagu.mobility.StopTime",
}
ENVELOPE = {"area": "a", "source_feed": "f", "observed_at": 1, "ingested_at": 2}


def index_of(data: bytes | Path, **options: Any) -> FeedIndex:
    source = data if isinstance(data, Path) else io.BytesIO(data)
    return check_feed(open_zip(source, "feed.zip", ZipLimits()), **options)


def normalised(index: FeedIndex) -> list[tuple[str, dict[str, Any]]]:
    return list(records(index, Params(lambda kind, *local: urn(kind, "ns", *local), ENVELOPE)))


def rows(table: bytes) -> list[list[str]]:
    import csv  # noqa: PLC0415

    return list(csv.reader(io.StringIO(table.decode("utf-8-sig"))))[1:]


@pytest.mark.parametrize("feed", ["cairns_gtfs.zip", "sample_gtfs.zip", "bullrunner-gtfs.zip"])
def test_real_feeds_give_one_valid_record_per_row(feed: str) -> None:
    tables = tables_of(GTFS / feed)
    out = normalised(index_of(GTFS / feed))
    counts = Counter(entity for entity, _ in out)
    assert counts == {
        entity: len([r for r in rows(tables[f"{entity}.txt"]) if r])
        for entity in ("stops", "routes", "trips", "stop_times")
    }
    for entity, record in out:
        fastavro.validation.validate(
            record, CATALOGUE.get(SCHEMAS[entity]).parsed, raise_errors=True
        )


def test_cairns_values_match_the_source_rows() -> None:
    out = normalised(index_of(GTFS / "cairns_gtfs.zip"))
    tables = tables_of(GTFS / "cairns_gtfs.zip")
    header = rows(b"x\n" + tables["stop_times.txt"])[0]
    first = dict(zip(header, rows(tables["stop_times.txt"])[0], strict=True))
    stop_time = next(r for e, r in out if e == "stop_times")
    assert stop_time["trip_id"] == first["trip_id"]
    assert stop_time["stop_sequence"] == int(first["stop_sequence"])
    assert stop_time["arrival_time"] == gtfs_time(first["arrival_time"])
    assert stop_time["id"] == urn("StopTime", "ns", first["trip_id"], first["stop_sequence"])
    route = next(r for e, r in out if e == "routes" and r["route_id"] == "110-423")
    assert (route["short_name"], route["long_name"], route["route_type"]) == (
        "110",
        "City - Palm Cove",
        3,
    )
    assert route["agency_name"].startswith("Department of Transport")


def test_times_past_midnight_are_seconds_of_the_service_day() -> None:
    assert gtfs_time("25:10:00") == 90_600
    assert gtfs_time("6:05:00") == 21_900
    feed = changed(
        GTFS / "sample_gtfs.zip",
        {"stop_times.txt": lambda t: t.replace("6:00:00,6:00:00", "25:10:00,25:12:00", 1)},
    )
    times = [r for e, r in normalised(index_of(feed)) if e == "stop_times"]
    assert (times[0]["arrival_time"], times[0]["departure_time"]) == (90_600, 90_720)


def kumamoto(encoding: str = "utf-8", **extra: bytes) -> bytes:
    # One English translation has an "é", which Shift_JIS lacks: spelt "e" in both.
    tables = {
        name: data.decode("utf-8").replace("é", "e").encode(encoding)
        for name, data in tables_of(KUMAMOTO).items()
    }
    return zip_of({**tables, **extra})


def test_gtfs_jp_kumamoto_partial_feed_with_old_translations_and_routes_jp() -> None:
    with pytest.raises(MalformedFeedError, match=r"stop_times.txt: required file is missing"):
        index_of(kumamoto())
    index = index_of(kumamoto(), partial=True)
    assert index.translations.layout == "gtfs-jp-legacy"
    out = normalised(index)
    counts = Counter(e for e, _ in out)
    assert counts == {"stops": 630, "routes": 70, "trips": 1759}
    stop = next(r for e, r in out if e == "stops" and r["stop_id"] == "100001_1")
    assert stop["name"] == "市役所前（熊本）"  # noqa: RUF001 - the real name, full-width brackets
    languages = {t["language"]: t["text"] for t in stop["name_translations"]}
    assert languages["en"] == "Shiyakusho Mae"
    assert languages["ja-Hrkt"] == "シヤクショマエ"
    route = next(r for e, r in out if e == "routes" and r["route_id"] == "1_1073_2_20240401")
    assert route["agency_name"] == "熊本バス"
    assert route["jp_parent_route_id"] == "山荘線"
    assert (route["jp_origin_stop"], route["jp_destination_stop"]) == ("浜町", "馬見原")
    trip = next(r for e, r in out if e == "trips" and r["trip_id"] == "1_1274_20240401")
    assert trip["jp_office_id"] == "1"
    assert {"text": "Mamihara", "language": "en"} in trip["headsign_translations"]
    for entity, record in out:
        fastavro.validation.validate(
            record, CATALOGUE.get(SCHEMAS[entity]).parsed, raise_errors=True
        )


def test_shift_jis_feeds_read_the_same_as_utf8() -> None:
    utf8 = normalised(index_of(kumamoto(), partial=True))
    index = index_of(kumamoto("cp932"), partial=True)
    assert any("read as cp932" in note for note in index.notes)
    assert normalised(index) == utf8
    # Told the encoding, a feed that is not in it is refused with the line.
    with pytest.raises(MalformedFeedError, match=r"agency.txt:2: not valid utf-8"):
        index_of(kumamoto("cp932"), partial=True, encoding="utf-8")


def test_standard_translations_layout_fills_the_name_translations() -> None:
    translations = (
        "table_name,field_name,language,translation,record_id,record_sub_id,field_value\n"
        "stops,stop_name,ja,ファーネスクリーク,FUR_CREEK_RES,,\n"
        "stops,stop_name,ja-Hrkt,ふぁーねすくりーく,FUR_CREEK_RES,,\n"
        "routes,route_long_name,fr,Aéroport - Bullfrog,,,Airport - Bullfrog\n"
    )
    feed = zip_of(
        {**tables_of(GTFS / "sample_gtfs.zip"), "translations.txt": translations.encode()}
    )
    index = index_of(feed)
    assert index.translations.layout == "gtfs"
    out = normalised(index)
    stop = next(r for e, r in out if e == "stops" and r["stop_id"] == "FUR_CREEK_RES")
    assert stop["name_translations"] == [
        {"text": "ファーネスクリーク", "language": "ja"},
        {"text": "ふぁーねすくりーく", "language": "ja-Hrkt"},
    ]
    route = next(r for e, r in out if e == "routes" and r["route_id"] == "AB")
    assert route["long_name_translations"] == [{"text": "Aéroport - Bullfrog", "language": "fr"}]


# Every broken feed of google/transitfeed, and where its first problem is.
BROKEN_FEEDS = {
    "bad_eol.zip": ("routes.txt:5", "carriage return without line feed"),
    "bad_utf8.zip": ("agency.txt:1", "not valid utf-8"),
    "contains_null.zip": ("stops.txt:9", "NUL byte"),
    "duplicate_stop_sequence.zip": ("stop_times.txt:4", "stop_sequence 10 appears twice"),
    "empty_file.zip": ("agency.txt:1", "the file is empty"),
    "extra_row_cells.zip": ("routes.txt:4", "row has 7 cells, the header has 6"),
    "missing_column.zip": ("agency.txt:1", "required column agency_name is missing"),
    "missing_stops.zip": ("stops.txt", "required file is missing"),
    "negative_stop_sequence.zip": ("stop_times.txt:9", "stop_sequence '-2' is not"),
    "undefined_stop.zip": ("stop_times.txt:11", "stop_id 'NADAR' is not in stops.txt"),
    "unknown_format.zip": ("feed.zip", "not a zip archive"),
    "utf16.zip": ("agency.txt:1", "UTF-16"),
}


@pytest.mark.parametrize(("feed", "expected"), sorted(BROKEN_FEEDS.items()))
def test_every_broken_feed_is_rejected_with_file_line_and_problem(
    feed: str, expected: tuple[str, str]
) -> None:
    where, problem = expected
    with pytest.raises(MalformedFeedError) as caught:
        index_of(BROKEN / feed)
    assert caught.value.where == where
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"{where}: ")


def test_the_broken_feeds_cover_the_whole_sample_directory() -> None:
    tolerated = {"utf8bom.zip", "unrecognized_columns.zip"}
    assert {p.name for p in BROKEN.glob("*.zip")} == set(BROKEN_FEEDS) | tolerated


def test_a_byte_order_mark_is_tolerated() -> None:
    assert normalised(index_of(BROKEN / "utf8bom.zip"))[0][1]["stop_id"] == "FUR_CREEK_RES"


def test_unknown_columns_are_read_past_and_named_with_a_likely_fix() -> None:
    index = index_of(BROKEN / "unrecognized_columns.zip")
    notes = " ".join(index.notes)
    assert "stop_uri (did you mean stop_url?)" in notes
    assert "drop_off_time (did you mean drop_off_type?)" in notes
    assert len([e for e, _ in normalised(index) if e == "stops"]) == 9


def test_an_unterminated_quote_is_located_where_the_record_starts() -> None:
    feed = changed(
        GTFS / "sample_gtfs.zip",
        {"stops.txt": lambda t: t.replace("Nye County Airport (Demo)", '"Nye County Airport')},
    )
    with pytest.raises(MalformedFeedError, match=r"^stops.txt:3: quoted field is never closed"):
        index_of(feed)


def test_several_problems_are_reported_together() -> None:
    feed = changed(
        GTFS / "sample_gtfs.zip",
        {
            "stops.txt": lambda t: t.replace("36.425288", "936.4"),
            "trips.txt": lambda t: t.replace("AB,FULLW,AB1", "ZZ,FULLW,AB1"),
        },
    )
    with pytest.raises(MalformedFeedError) as caught:
        index_of(feed)
    message = str(caught.value)
    assert message.startswith("stops.txt:2: stop_lat 936.4 is out of range")
    assert "trips.txt:2: route_id 'ZZ' is not in routes.txt" in message


def test_every_value_the_records_take_is_checked_before_anything_is_published() -> None:
    # Each of these once passed the check and then stopped the import half published.
    feed = changed(
        GTFS / "sample_gtfs.zip",
        {
            "trips.txt": lambda t: t.replace("shape_id\n", "shape_id,bikes_allowed\n").replace(
                "AB,FULLW,AB1,to Bullfrog,0,1.000000,", "AB,FULLW,AB1,to Bullfrog,0,1.000000,,yes"
            ),
            "stop_times.txt": lambda t: t.replace(
                "shape_dist_traveled\n", "shape_dist_traveled,timepoint\n"
            ).replace(
                "STBA,6:00:00,6:00:00,STAGECOACH,1,,,,",
                "STBA,6:00:00,6:00:00,STAGECOACH,1,,7,,far,yes",
            ),
        },
    )
    with pytest.raises(MalformedFeedError) as caught:
        index_of(feed)
    message = str(caught.value)
    assert message.startswith("trips.txt:2: bikes_allowed 'yes' is not one of 0-2")
    assert "stop_times.txt:2: pickup_type '7' is not one of 0-3" in message
    assert "stop_times.txt:2: shape_dist_traveled 'far' is not a number" in message
    assert "stop_times.txt:2: timepoint 'yes' is not one of 0-1" in message


def _bomb(member_bytes: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in tables_of(GTFS / "sample_gtfs.zip").items():
            archive.writestr(name, data)
        with archive.open("fares.txt", "w", force_zip64=True) as member:
            block = b"0" * (1 << 20)
            for _ in range(member_bytes >> 20):
                member.write(block)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    bomb = _bomb(64 << 20)  # 64 MiB of zeros in about 64 KiB
    assert len(bomb) < 1 << 20
    with pytest.raises(MalformedFeedError, match=r"fares.txt inflates \d[\d,]* times"):
        open_zip(io.BytesIO(bomb), "bomb.zip", ZipLimits())
    with pytest.raises(MalformedFeedError, match=r"archive inflates to [\d,]+ bytes"):
        open_zip(io.BytesIO(bomb), "bomb.zip", ZipLimits(max_total_bytes=32 << 20, max_ratio=1e9))


def _by_sequence(text: str) -> str:
    """stop_times.txt sorted by stop_sequence: every trip's rows in several runs."""
    header, *lines = text.splitlines()
    return "\n".join([header, *sorted(lines, key=lambda line: int(line.split(",")[4]))]) + "\n"


def test_stop_times_in_any_order_are_checked_for_duplicates_across_a_trips_rows() -> None:
    index = index_of(changed(GTFS / "sample_gtfs.zip", {"stop_times.txt": _by_sequence}))
    assert index.rows["stop_times.txt"] == 28
    duplicate = "CITY1,7:00:00,7:00:00,EMSI,3,,,,\n"  # CITY1's 3 is in the run of all the 3s
    feed = changed(
        GTFS / "sample_gtfs.zip", {"stop_times.txt": lambda t: _by_sequence(t) + duplicate}
    )
    with pytest.raises(MalformedFeedError) as caught:
        index_of(feed)
    assert str(caught.value) == "stop_times.txt:30: stop_sequence 3 appears twice in trip 'CITY1'"


def _long_trips(stops_per_trip: int, trips: int = 500) -> bytes:
    tables = tables_of(GTFS / "sample_gtfs.zip")
    trip_rows = [f"AB,FULLW,T{i}" for i in range(trips)]
    tables["trips.txt"] = "\n".join(["route_id,service_id,trip_id", *trip_rows]).encode()
    tables["stop_times.txt"] = "\n".join(
        ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
        + [
            f"T{i},8:00:00,8:00:00,BULLFROG,{seq}"
            for i in range(trips)
            for seq in range(stops_per_trip)
        ]
    ).encode()
    buffer = io.BytesIO()
    # Stored: inflating buffers up to a chunk of compressed bytes, more for a longer file.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in tables.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _check_peak(feed: bytes) -> int:
    tracemalloc.start()
    try:
        index_of(feed)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checking_stop_times_takes_no_memory_per_stop_time() -> None:
    # 100,000 and 300,000 stop times of the same 500 trips (both files several times the
    # reader's chunk): an array of sequences per trip took 1.6 MB more for the longer trips.
    short, long = _check_peak(_long_trips(200)), _check_peak(_long_trips(600))
    assert long - short < 512 << 10
