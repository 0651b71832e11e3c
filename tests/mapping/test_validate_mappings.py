"""`tsunagu validate` type-checks every bridge's mapping against the schemas of both topics,
and each problem names the mapping file, its line and the target field."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.cli import tsunagu

REPO = Path(__file__).resolve().parents[2]

TARGET = {
    "type": "record",
    "name": "BusStatus",
    "namespace": "ishikawa.transit",
    "doc": "A test target: how Ishikawa names a bus and its stop status.",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "busNumber", "type": ["null", "int"], "default": None},
        {"name": "status", "type": "string"},
        {"name": "lat", "type": "double"},
    ],
}

GOOD = {
    "id": "{from: id}",
    "busNumber": "{const: 7}",
    "status": "{from: current_status, table: statuses, default: unknown}",
    "lat": "{from: latitude}",
}
TABLE = "tables:\n  statuses: {INCOMING_AT: coming, STOPPED_AT: stopped, IN_TRANSIT_TO: moving}\n"

# name -> (rules changed from GOOD (None: rule removed), expected line, expected message)
BROKEN: dict[str, tuple[dict[str, str | None], int, str]] = {
    "unset": ({"lat": None}, 5, "fields: target field 'lat' is required but not produced"),
    "string-to-int": (
        {"busNumber": "{from: vehicle_label}"},
        7,
        "fields.busNumber.from: 'vehicle_label' (null | string) does not fit 'busNumber' "
        "(null | int)",
    ),
    "enum": (
        {"status": "{from: current_status, table: statuses}"},
        8,
        "fields.status.table: table 'statuses' misses source symbols UNKNOWN (add them or a "
        "default)",
    ),
}


def mapping_text(rules: dict[str, str | None]) -> str:
    fields = "".join(f"  {k}: {v}\n" for k, v in rules.items() if v is not None)
    return (
        "mapping: test\nversion: 1\nsource: tsunagu.mobility.VehiclePosition\n"
        f"target: ishikawa.transit.BusStatus\nfields:\n{fields}{TABLE}"
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas" / "avro", schemas)
    (schemas / "BusStatus.avsc").write_text(json.dumps(TARGET))
    (tmp_path / "mappings").mkdir()
    bridges = ""
    for name, (changes, _, _) in {"good": ({}, 0, ""), **BROKEN}.items():
        (tmp_path / "mappings" / f"{name}.yaml").write_text(mapping_text({**GOOD, **changes}))
        bridges += f"""
          {name}:
            source: kaga.mobility.vehicle-positions.v1
            target: ishikawa.transit.bus-status.v1
            mapping: mappings/{name}.yaml"""
    (tmp_path / "topics.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        areas:
          kaga: {{title: Kaga}}
          ishikawa: {{title: Ishikawa}}
        topics:
          kaga.mobility.vehicle-positions.v1:
            area: kaga
            schema: tsunagu.mobility.VehiclePosition
            licence: CC-BY-4.0
            publisher: Kaga
          ishikawa.transit.bus-status.v1:
            area: ishikawa
            schema: ishikawa.transit.BusStatus
            licence: CC-BY-4.0
            publisher: Ishikawa
        bridges:{bridges}
        """)
    )
    return tmp_path


def validate(workspace: Path) -> subprocess.CompletedProcess[str]:
    return tsunagu(
        "validate",
        "--config",
        str(workspace / "topics.yaml"),
        "--schemas",
        str(workspace / "schemas"),
    )


def test_each_broken_mapping_is_rejected_with_file_line_and_field(workspace: Path) -> None:
    result = validate(workspace)
    assert result.returncode == 1
    problems = [line for line in result.stderr.splitlines() if "mappings/" in line]
    for name, (_, line, message) in BROKEN.items():
        expected = f"{workspace / 'mappings' / name}.yaml:{line}: {message}"
        assert expected in problems, result.stderr
    assert not any("mappings/good.yaml" in p for p in problems), result.stderr
    # Without its default the enum rule also lets a null through to a required field.
    nullable = (
        f"{workspace / 'mappings' / 'enum'}.yaml:8: fields.status.from: 'current_status' may "
        "be null but 'status' may not (give a default)"
    )
    assert nullable in problems
    assert len(problems) == len(BROKEN) + 1, result.stderr


def test_the_good_mapping_alone_validates(workspace: Path) -> None:
    config = workspace / "topics.yaml"
    text = config.read_text()
    config.write_text(text[: text.index("\n  unset:")] + "\n")
    result = validate(workspace)
    assert result.returncode == 0, result.stderr


def test_a_mapping_written_for_another_schema_is_named(workspace: Path) -> None:
    good = workspace / "mappings" / "good.yaml"
    good.write_text(good.read_text().replace("VehiclePosition", "TripUpdate"))
    result = validate(workspace)
    assert (
        f"{good}:3: source: the mapping is for tsunagu.mobility.TripUpdate, but bridge good's "
        "source topic kaga.mobility.vehicle-positions.v1 holds tsunagu.mobility.VehiclePosition"
    ) in result.stderr
