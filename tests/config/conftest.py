"""Fixtures for the configuration tests: a small schema catalogue written to tmp_path, and
broken topics.yaml fixtures that carry their own expected problems."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.schemas import SchemaCatalogue

FIXTURES = Path(__file__).parent / "fixtures"

#: Small schemas standing in for schemas/avro/, one per file as there.
SCHEMAS: dict[str, dict[str, object]] = {
    "VehiclePosition.avsc": {
        "type": "record",
        "name": "VehiclePosition",
        "namespace": "tsunagu.mobility",
        "doc": "Where a vehicle is.",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "route_id", "type": ["null", "string"], "default": None},
            {"name": "latitude", "type": "double"},
            {"name": "longitude", "type": "double"},
            {
                "name": "observed_at",
                "type": {"type": "long", "logicalType": "timestamp-millis"},
            },
        ],
    },
    "Facility.avsc": {
        "type": "record",
        "name": "Facility",
        "namespace": "tsunagu.city",
        "fields": [
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "name", "type": "string"},
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["TOILET"]}},
        ],
    },
    "SharedMobilityStation.avsc": {
        "type": "record",
        "name": "SharedMobilityStation",
        "namespace": "tsunagu.mobility",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "name", "type": "string"},
        ],
    },
    # A record using a named type from another file (Position.avsc, sorted after it).
    "BusLocation.avsc": {
        "type": "record",
        "name": "ishikawa.mobility.BusLocation",
        "fields": [
            {"name": "id", "type": "string"},
            {
                "name": "position",
                "type": "tsunagu.common.Position",
                "default": {"latitude": 0.0, "longitude": 0.0},
            },
        ],
    },
    "Position.avsc": {
        "type": "record",
        "name": "Position",
        "namespace": "tsunagu.common",
        "fields": [
            {"name": "latitude", "type": "double"},
            {"name": "longitude", "type": "double"},
        ],
    },
}


def write_schemas(directory: Path) -> Path:
    """Write SCHEMAS as pretty-printed .avsc files into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in SCHEMAS.items():
        (directory / name).write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return directory


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    """A directory holding the small test schemas."""
    return write_schemas(tmp_path / "schemas")


@pytest.fixture
def catalogue(schema_dir: Path) -> SchemaCatalogue:
    """The catalogue of the small test schemas."""
    return SchemaCatalogue.load(schema_dir)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A directory for config files, holding the mapping file the fixtures' bridges name."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "kaga-to-ishikawa.yaml").write_text(
        "mapping: kaga-to-ishikawa\n"
        "source: tsunagu.mobility.VehiclePosition\n"
        "target: ishikawa.mobility.BusLocation\n"
        "fields:\n"
        "  id: {from: id}\n",
        encoding="utf-8",
    )
    (tmp_path / "mappings" / "same-vocabulary.yaml").write_text(
        "mapping: same-vocabulary\n"
        "source: tsunagu.mobility.VehiclePosition\n"
        "target: tsunagu.mobility.VehiclePosition\n"
        "fields:\n"
        + "".join(
            f"  {f}: {{from: {f}}}\n" for f in ("id", "latitude", "longitude", "observed_at")
        ),
        encoding="utf-8",
    )
    return tmp_path


@dataclass(frozen=True)
class Expected:
    """One problem a fixture expects: its line, its exact key path, part of its message."""

    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}: {self.path}: ...{self.message}..."


_EXPECT = re.compile(r"#\s*expect:\s*(\d+|-)\s+(\S*)\s+::\s+(.+?)\s*$")


def expectations(text: str) -> list[Expected]:
    """The `# expect: <line|-> <path|""> :: <message part>` comments of a fixture.

    They sit at the end of each fixture, so adding one never moves the lines they name.
    """
    found = []
    for line in text.splitlines():
        match = _EXPECT.match(line.strip())
        if match:
            number, path, message = match.groups()
            found.append(
                Expected(
                    None if number == "-" else int(number), "" if path == '""' else path, message
                )
            )
    return found


def copy_fixture(name: str, workspace: Path) -> Path:
    """Copy fixture `name` into `workspace` (where its bridges' mapping files exist)."""
    target = workspace / name
    shutil.copyfile(FIXTURES / name, target)
    return target
