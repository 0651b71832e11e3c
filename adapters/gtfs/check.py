"""The first pass over a GTFS zip: is the whole feed sound enough to publish?

A timetable published by halves is worse than yesterday's, so every table is read and
checked before one record is produced: required files and columns, rows wider than
their header, unreadable encodings, values, unique ids, and references (a stop time's
trip and stop, a trip's route and service). Problems are collected, located as
``file:line``, and raised together. What the second pass needs (each table's encoding,
agency names, translations, GTFS-JP route details, row counts for progress bars) comes
back in a ``FeedIndex``. Memory stays bounded by the ids of stops, routes and trips,
never by the stop_times rows: the stop sequences of a trip are held only while its rows
are being read (see ``_stop_times``).
"""

from __future__ import annotations

import zipfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from adapters.base import MalformedFeedError
from adapters.gtfs import values as v
from adapters.gtfs.columns import Columns
from adapters.gtfs.reader import Table, UndecodableError, member_names
from adapters.gtfs.spec import FILES, REQUIRED_FILES
from adapters.gtfs.translations import Translations

__all__ = ["FeedIndex", "check_feed"]

_MAX_PROBLEMS = 20
Progress = Callable[[str, int, int | None], None]


@dataclass
class FeedIndex:
    """What the second pass needs to know about a feed that passed the checks."""

    tables: dict[str, Table] = field(default_factory=dict)
    columns: dict[str, Columns] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    agencies: dict[str, str] = field(default_factory=dict)  # agency_id ("" if none) -> name
    routes_jp: dict[str, list[str]] = field(default_factory=dict)  # route_id -> padded row
    translations: Translations = field(default_factory=Translations)
    notes: list[str] = field(default_factory=list)


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.total = 0

    def add(self, where: str, message: str) -> None:
        self.total += 1
        if len(self.items) < _MAX_PROBLEMS:
            self.items.append((where, message))

    @property
    def full(self) -> bool:
        return self.total >= _MAX_PROBLEMS

    def raise_if_any(self) -> None:
        if not self.items:
            return
        where, first = self.items[0]
        rest = [f"{w}: {m}" for w, m in self.items[1:]]
        more = self.total - len(self.items)
        message = first
        if rest:
            message += f" (and {self.total - 1} more problems: " + "; ".join(rest)
            message += ", ..." if more else ""
            message += ")"
        raise MalformedFeedError(message, where)


@dataclass
class _State:
    """Ids gathered so far, for the references of later tables."""

    services: set[str] = field(default_factory=set)
    stops: set[str] | None = None  # None: stops.txt could not be read, skip the check
    routes: set[str] | None = None
    # trip id -> whether stop_times.txt has had rows of it yet: one dict for the reference
    # check and for telling trips whose rows are together from trips whose rows are not
    trips: dict[str, bool] | None = None


def check_feed(
    archive: zipfile.ZipFile,
    *,
    encoding: str = "auto",
    partial: bool = False,
    progress: Progress | None = None,
) -> FeedIndex:
    """Check the whole feed; MalformedFeedError with every problem found (up to 20)."""
    members = member_names(archive)
    problems = _Problems()
    index = FeedIndex()
    required = [f for f in REQUIRED_FILES if not (partial and f == "stop_times.txt")]
    for name in required:
        if name not in members:
            problems.add(name, "required file is missing from the archive")
    if "calendar.txt" not in members and "calendar_dates.txt" not in members:
        problems.add("calendar.txt", "neither calendar.txt nor calendar_dates.txt is present")
    run = _Run(archive, encoding, problems, _State(), index, progress)
    checkers: dict[str, Checker] = {
        "agency.txt": _agency,
        "calendar.txt": _calendar,
        "calendar_dates.txt": _calendar_dates,
        "stops.txt": _stops,
        "routes.txt": _routes,
        "trips.txt": _trips,
        "stop_times.txt": _stop_times,
        "translations.txt": _translations,
        "routes_jp.txt": _routes_jp,
    }
    for name, checker in checkers.items():
        info = members.get(name)
        if info is None or problems.full:
            continue
        table = _read(run, info, name, checker)
        if table is not None:
            index.tables[name] = table
    for name in sorted(set(members) - set(checkers)):
        if name in FILES:  # agency_jp, office_jp, pattern_jp: nothing of theirs is published
            index.notes.append(f"{name}: read for reference only")
    problems.raise_if_any()
    return index


Checker = Callable[["_Rows", Columns, _Problems, _State, FeedIndex], None]


@dataclass
class _Run:
    """One check of a feed: what every table's check shares."""

    archive: zipfile.ZipFile
    encoding: str
    problems: _Problems
    state: _State
    index: FeedIndex
    progress: Progress | None


def _read(run: _Run, info: zipfile.ZipInfo, name: str, checker: Checker) -> Table | None:
    """Check one table, trying UTF-8 then CP932 (Japanese feeds) unless told which."""
    archive, encoding, problems, state = run.archive, run.encoding, run.problems, run.state
    index, progress = run.index, run.progress
    tries = ["utf-8", "cp932"] if encoding == "auto" else [encoding]
    first_error: UndecodableError | None = None
    for attempt in tries:
        table = Table(archive, info, name, attempt)
        local = _Problems()
        try:
            rows = _Rows(table, local, progress)
            columns = rows.columns(index)
            if columns is not None:
                checker(rows, columns, local, state, index)
                index.rows[name] = rows.count
                index.columns[name] = columns
        except UndecodableError as exc:
            first_error = first_error or exc
            continue
        except MalformedFeedError as exc:
            local.add(exc.where or name, str(exc).removeprefix(f"{exc.where}: "))
        if attempt != "utf-8" and not local.items:
            index.notes.append(f"{name}: read as {attempt}")
        for where, message in local.items:
            problems.add(where, message)
        return table if not local.items else None
    assert first_error is not None
    problems.add(f"{name}:{first_error.line}", str(first_error).split(": ", 1)[1])
    return None


class _Rows:
    """A table being checked: its header, then its rows padded to the header's width."""

    def __init__(self, table: Table, problems: _Problems, progress: Progress | None) -> None:
        self.table, self.name, self.problems, self.progress = table, table.name, problems, progress
        self.iterator = table.rows()
        self.first = next(self.iterator, None)  # reads the header
        self.count = 0

    def columns(self, index: FeedIndex) -> Columns | None:
        """The header's columns; None when a required one is missing."""
        assert self.table.header is not None
        columns = Columns(self.table.header, FILES.get(self.name))
        for missing in columns.missing_required():
            self.problems.add(f"{self.name}:1", f"required column {missing} is missing")
        unknown = columns.unknown()
        if unknown:
            index.notes.append(
                f"{self.name}: columns not in the specification: {', '.join(unknown)}"
            )
        self.padded = columns
        return None if self.problems.items else columns

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        """(line, padded cells); a row wider than the header is a problem (cells would shift)."""
        columns, problems, name = self.padded, self.problems, self.name
        width = columns.width
        rows = self.iterator if self.first is None else _chain(self.first, self.iterator)
        for count, (line, row) in enumerate(rows, 1):
            if len(row) > width:
                problems.add(f"{name}:{line}", f"row has {len(row)} cells, the header has {width}")
                if problems.full:
                    return
                continue
            self.count = count
            if self.progress is not None and not count % 200_000:
                self.progress(f"checking {name}", count, None)
            yield line, columns.pad(row)


def _chain(
    first: tuple[int, list[str]], rest: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield first
    yield from rest


def _value(problems: _Problems, where: str, parse: Callable[[str], object], text: str) -> bool:
    try:
        parse(text)
    except ValueError as exc:
        problems.add(where, str(exc))
        return False
    return True


def _unique(ids: set[str], value: str, column: str, where: str, problems: _Problems) -> None:
    if not value:
        problems.add(where, f"{column} is empty")
    elif value in ids:
        problems.add(where, f"{column} {value!r} is not unique")
    else:
        ids.add(value)


# Cells the second pass parses beyond the checks below: each is checked here too, or a value
# the records cannot take would stop the import half published. Valid texts are remembered
# (codes and small numbers repeat) up to a bound, past which each is parsed.
_Parse = Callable[[str], object]
_VALUES_REMEMBERED = 10_000


def _code(symbols: tuple[str, ...], column: str) -> _Parse:
    return lambda text: v.code(text, symbols, column)


def _integer(column: str) -> _Parse:
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{column} {text!r} is not an integer") from None

    return parse


def _number(column: str) -> _Parse:
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{column} {text!r} is not a number") from None

    return parse


_Parsers = list[tuple[int, _Parse, set[str]]]


def _parsers(c: Columns, parsers: dict[str, _Parse]) -> _Parsers:
    """(index, parse, valid texts seen) of the columns in ``parsers`` that the header has."""
    return [(c[name], parse, {""}) for name, parse in parsers.items() if c.has(name)]


def _values(p: _Problems, name: str, line: int, row: list[str], parsers: _Parsers) -> None:
    for i, parse, valid in parsers:
        text = row[i]
        if text in valid:
            continue
        try:
            parse(text)
        except ValueError as exc:
            p.add(f"{name}:{line}", str(exc))
            continue
        if len(valid) < _VALUES_REMEMBERED:
            valid.add(text)


def _agency(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    for line, row in t:
        for column in ("agency_name", "agency_url", "agency_timezone"):
            if not row[c[column]]:
                p.add(f"{t.name}:{line}", f"{column} is empty")
        index.agencies[row[c["agency_id"]]] = row[c["agency_name"]]


def _calendar(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    for line, row in t:
        where = f"{t.name}:{line}"
        s.services.add(row[c["service_id"]])
        for column in ("start_date", "end_date"):
            _value(p, where, v.date, row[c[column]])


def _calendar_dates(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    for line, row in t:
        where = f"{t.name}:{line}"
        s.services.add(row[c["service_id"]])
        _value(p, where, v.date, row[c["date"]])
        if row[c["exception_type"]] not in ("1", "2"):
            p.add(where, f"exception_type {row[c['exception_type']]!r} is not 1 or 2")


def _coordinate(text: str, limit: float, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a number") from None
    if not -limit <= value <= limit:
        raise ValueError(f"{column} {text} is out of range")
    return value


def _latitude(text: str) -> float:
    return _coordinate(text, 90.0, "stop_lat")


def _longitude(text: str) -> float:
    return _coordinate(text, 180.0, "stop_lon")


def _location_type(text: str) -> str:
    return v.code(text, v.LOCATION_TYPES, "location_type")


def _stops(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    ids: set[str] = set()
    lat, lon, kind = c["stop_lat"], c["stop_lon"], c["location_type"]
    more = _parsers(
        c,
        {
            "wheelchair_boarding": _code(v.ACCESSIBILITY, "wheelchair_boarding"),
            "stop_access": _integer("stop_access"),
        },
    )
    for line, row in t:
        where = f"{t.name}:{line}"
        _unique(ids, row[c["stop_id"]], "stop_id", where, p)
        _values(p, t.name, line, row, more)
        if _value(p, where, _location_type, row[kind]):
            needs_position = row[kind] in ("", "0", "1", "2")
            for i, parse, column in ((lat, _latitude, "stop_lat"), (lon, _longitude, "stop_lon")):
                if row[i]:
                    _value(p, where, parse, row[i])
                elif needs_position:
                    p.add(where, f"{column} is empty (required for this location_type)")
    s.stops = ids


def _routes(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    ids: set[str] = set()
    several_agencies = len(index.agencies) > 1
    columns = ("route_sort_order", "continuous_pickup", "continuous_drop_off")
    more = _parsers(c, {column: _integer(column) for column in columns})
    for line, row in t:
        where = f"{t.name}:{line}"
        _unique(ids, row[c["route_id"]], "route_id", where, p)
        _value(p, where, _route_type, row[c["route_type"]])
        _values(p, t.name, line, row, more)
        agency = row[c["agency_id"]]
        if several_agencies and agency not in index.agencies:
            p.add(where, f"agency_id {agency!r} is not in agency.txt")
    s.routes = ids


def _route_type(text: str) -> int:
    if not text.isdecimal():
        raise ValueError(f"route_type {text!r} is not a number")
    return int(text)


def _trips(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    ids: dict[str, bool] = {}
    routes, services = s.routes, s.services
    columns = ("wheelchair_accessible", "bikes_allowed", "cars_allowed")
    more = _parsers(c, {column: _code(v.ACCESSIBILITY, column) for column in columns})
    for line, row in t:
        where = f"{t.name}:{line}"
        trip = row[c["trip_id"]]
        if not trip:
            p.add(where, "trip_id is empty")
        elif trip in ids:
            p.add(where, f"trip_id {trip!r} is not unique")
        else:
            ids[trip] = False
        route = row[c["route_id"]]
        if routes is not None and route not in routes:
            p.add(where, f"route_id {route!r} is not in routes.txt")
        service = row[c["service_id"]]
        if services and service not in services:
            p.add(
                where, f"service_id {service!r} is in neither calendar.txt nor calendar_dates.txt"
            )
        direction = row[c["direction_id"]]
        if direction not in ("", "0", "1"):
            p.add(where, f"direction_id {direction!r} is not 0 or 1")
        _values(p, t.name, line, row, more)
    s.trips = ids


# Valid times are remembered so that each is parsed once: a timetable has few distinct
# ones (mostly whole minutes). The cap bounds a feed of odd times, then parsed row by row.
_TIMES_REMEMBERED = 100_000


def _stop_times(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    """References, values, and unique stop sequences within each trip.

    Feeds list a trip's stop times together (nearly all sort by trip), so the sequences of
    the trip being read are all that is held, never a set per trip: stop_times grow with
    the feed far faster than trips do. A trip whose rows come back after another trip's is
    remembered, and only such trips are read again for duplicates across their runs.
    """
    check_trips, runs = _unread_trips(s)
    stops = s.stops
    trip_i, seq_i, stop_i = c["trip_id"], c["stop_sequence"], c["stop_id"]
    arr_i, dep_i = c["arrival_time"], c["departure_time"]
    times: set[str] = {""}
    more = _parsers(
        c,
        {
            "pickup_type": _code(v.PICKUP_DROP_OFF, "pickup_type"),
            "drop_off_type": _code(v.PICKUP_DROP_OFF, "drop_off_type"),
            "shape_dist_traveled": _number("shape_dist_traveled"),
            "timepoint": _code(("APPROXIMATE", "EXACT"), "timepoint"),
            "continuous_pickup": _integer("continuous_pickup"),
            "continuous_drop_off": _integer("continuous_drop_off"),
            "start_pickup_drop_off_window": v.gtfs_time,
            "end_pickup_drop_off_window": v.gtfs_time,
        },
    )
    current: str | None = None  # the trip of the run of rows being read
    known = True  # whether it is in trips.txt
    sequences: set[int] = set()  # its stop sequences so far in this run
    split: set[str] = set()  # trips whose rows are in more than one run
    for line, row in t:
        trip, seq_text, stop = row[trip_i], row[seq_i], row[stop_i]
        if trip != current:
            current, sequences = trip, set()
            started = runs.get(trip)
            known = started is not None or not check_trips
            if started:
                split.add(trip)
            elif known:
                runs[trip] = True
        if not known:
            p.add(f"{t.name}:{line}", f"trip_id {trip!r} is not in trips.txt")
        if stops is not None and stop and stop not in stops:
            p.add(f"{t.name}:{line}", f"stop_id {stop!r} is not in stops.txt")
        if not seq_text.isdecimal():
            p.add(f"{t.name}:{line}", f"stop_sequence {seq_text!r} is not a non-negative integer")
        else:
            seq = int(seq_text)
            if seq in sequences:
                p.add(f"{t.name}:{line}", f"stop_sequence {seq} appears twice in trip {trip!r}")
            else:
                sequences.add(seq)
        for i in (arr_i, dep_i):
            if row[i] not in times:
                _check_time(row[i], times, p, f"{t.name}:{line}")
        if more:
            _values(p, t.name, line, row, more)
        if p.full:
            return
    if split:
        _runs_of_split_trips(t, c, p, split)


def _unread_trips(s: _State) -> tuple[bool, dict[str, bool]]:
    """Whether trips.txt was read (so trip ids are checked), and its trips marked unread."""
    if s.trips is None:
        return False, {}
    for trip in s.trips:  # an earlier try in another encoding may have marked some
        s.trips[trip] = False
    return True, s.trips


def _check_time(text: str, times: set[str], p: _Problems, where: str) -> None:
    """Check a time not seen before (rare: called per distinct time, not per row)."""
    try:
        v.gtfs_time(text)
    except ValueError as exc:
        p.add(where, str(exc))
    else:
        if len(times) < _TIMES_REMEMBERED:
            times.add(text)


def _runs_of_split_trips(t: _Rows, c: Columns, p: _Problems, split: set[str]) -> None:
    """Read stop_times.txt again for duplicate stop sequences between the runs of the trips
    in ``split`` (duplicates within one run were found by the first read)."""
    trip_i, seq_i, width = c["trip_id"], c["stop_sequence"], c.width
    earlier: dict[str, array[int]] = {}  # trip -> every sequence of its runs so far
    current: str | None = None
    run: set[int] = set()
    for line, row in t.table.rows():
        if len(row) > width:
            continue  # reported by the first read
        trip = c.pad(row)[trip_i]
        if trip != current:
            current, run = trip, set()
        seq_text = row[seq_i]
        if trip not in split or not seq_text.isdecimal():
            continue
        seq = int(seq_text)
        seen = earlier.get(trip)
        if seen is None:
            earlier[trip] = array("l", (seq,))
        elif seq not in run:
            if seq in seen:
                p.add(f"{t.name}:{line}", f"stop_sequence {seq} appears twice in trip {trip!r}")
                if p.full:
                    return
            seen.append(seq)
        run.add(seq)


def _translations(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    if not (c.has("trans_id") or c.has("table_name")):
        p.add(
            f"{t.name}:1",
            "header is neither the GTFS layout (table_name, ...) nor the "
            "GTFS-JP one (trans_id, lang, translation)",
        )
        return
    index.translations = Translations.from_rows(c.header, (row for _, row in t))


def _routes_jp(t: _Rows, c: Columns, p: _Problems, s: _State, index: FeedIndex) -> None:
    for _, row in t:
        index.routes_jp[row[c["route_id"]]] = row
    index.columns["routes_jp.txt"] = c
