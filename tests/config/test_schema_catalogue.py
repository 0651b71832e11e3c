"""The schema catalogue: loading a directory of .avsc files, and every way one can be broken."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import fastavro
import pytest

from hub.config import validate_file
from hub.errors import SchemaCatalogueError, SchemaError
from hub.schemas import SchemaCatalogue

from .conftest import SCHEMAS, copy_fixture, write_schemas


def _load_errors(directory: Path) -> list[str]:
    with pytest.raises(SchemaCatalogueError) as info:
        SchemaCatalogue.load(directory)
    assert isinstance(info.value, SchemaError)
    return [str(p) for p in info.value.problems]


def test_schemas_are_indexed_by_full_name(catalogue: SchemaCatalogue, schema_dir: Path) -> None:
    assert catalogue.names() == [
        "ishikawa.mobility.BusLocation",
        "tsunagu.city.Facility",
        "tsunagu.common.Position",
        "tsunagu.mobility.SharedMobilityStation",
        "tsunagu.mobility.VehiclePosition",
    ]
    assert "tsunagu.city.Facility" in catalogue
    assert "tsunagu.city.Nothing" not in catalogue
    assert len(catalogue) == len(SCHEMAS)
    entry = catalogue.get("tsunagu.mobility.VehiclePosition")
    assert entry.path == schema_dir / "VehiclePosition.avsc"
    assert entry.raw == SCHEMAS["VehiclePosition.avsc"]
    # Compact JSON, keys in the order written: stable text to register.
    assert entry.text == json.dumps(entry.raw, separators=(",", ":"), ensure_ascii=False)
    assert entry.text.startswith('{"type":"record","name":"VehiclePosition",')
    assert [f["name"] for f in entry.fields] == [
        "id",
        "route_id",
        "latitude",
        "longitude",
        "observed_at",
    ]
    with pytest.raises(KeyError, match=re.escape("'tsunagu.city.Nothing'")):
        catalogue.get("tsunagu.city.Nothing")


def test_parsed_schemas_encode_and_decode(catalogue: SchemaCatalogue) -> None:
    # BusLocation uses tsunagu.common.Position from another file.
    parsed = catalogue.get("ishikawa.mobility.BusLocation").parsed
    record = {
        "id": "urn:ngsi-ld:Bus:ishikawa:1",
        "position": {"latitude": 36.3, "longitude": 136.3},
    }
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    buffer.seek(0)
    assert fastavro.schemaless_reader(buffer, parsed, None) == record


def test_bad_json_is_located(tmp_path: Path) -> None:
    directory = write_schemas(tmp_path / "schemas")
    bad = directory / "Broken.avsc"
    bad.write_text(
        '{\n  "type": "record",\n  "name": "Broken"\n  "fields": []\n}\n', encoding="utf-8"
    )
    assert _load_errors(directory) == [
        f"{bad}:4: invalid JSON at column 3: Expecting ',' delimiter"
    ]


def test_invalid_avro_names_the_file_and_the_reason(tmp_path: Path) -> None:
    directory = tmp_path / "schemas"
    directory.mkdir()
    (directory / "NoType.avsc").write_text(
        json.dumps({"type": "record", "name": "a.NoType", "fields": [{"name": "x"}]}),
        encoding="utf-8",
    )
    (directory / "Typo.avsc").write_text(
        json.dumps(
            {"type": "record", "name": "a.Typo", "fields": [{"name": "x", "type": "strin"}]}
        ),
        encoding="utf-8",
    )
    (directory / "Union.avsc").write_text('["null", "string"]', encoding="utf-8")
    assert _load_errors(directory) == [
        f"{directory / 'NoType.avsc'}: invalid Avro schema: Record field 'x' is missing 'type'",
        f"{directory / 'Typo.avsc'}: invalid Avro schema: unknown type 'a.strin'",
        f"{directory / 'Union.avsc'}:1: the top level must be a named type (record, enum or "
        "fixed), not a list",
    ]


def test_a_full_name_defined_twice_names_both_files(tmp_path: Path) -> None:
    directory = write_schemas(tmp_path / "schemas")
    copy = dict(SCHEMAS["Facility.avsc"], doc="A second copy.")
    (directory / "FacilityCopy.avsc").write_text(json.dumps(copy), encoding="utf-8")
    assert _load_errors(directory) == [
        f"{directory / 'FacilityCopy.avsc'}: tsunagu.city.Facility is defined in both "
        "Facility.avsc and FacilityCopy.avsc"
    ]


def test_every_problem_is_reported_and_the_rest_still_loads(tmp_path: Path) -> None:
    directory = write_schemas(tmp_path / "schemas")
    (directory / "A.avsc").write_text("{", encoding="utf-8")
    (directory / "B.avsc").write_text('{"type": "enum", "name": "B"}', encoding="utf-8")
    (directory / "C.avsc").write_text('{"type": "record", "fields": []}', encoding="utf-8")
    catalogue, problems = SchemaCatalogue.load_partial(directory)
    assert [Path(p.file).name for p in problems] == ["A.avsc", "B.avsc", "C.avsc"]
    assert "tsunagu.mobility.VehiclePosition" in catalogue
    assert len(catalogue) == len(SCHEMAS)


def test_a_missing_directory_is_a_problem(tmp_path: Path) -> None:
    assert _load_errors(tmp_path / "nope") == [f"{tmp_path / 'nope'}: schema directory not found"]


def test_validate_file_reports_schema_and_config_problems(tmp_path: Path, workspace: Path) -> None:
    directory = write_schemas(tmp_path / "schemas")
    (directory / "VehiclePosition.avsc").write_text("{oops", encoding="utf-8")
    config = copy_fixture("valid.yaml", workspace)
    problems = [str(p) for p in validate_file(config, directory)]
    assert problems[0].startswith(f"{directory / 'VehiclePosition.avsc'}:1: invalid JSON")
    assert problems[1] == (
        f'{config}:35: topics["kaga.mobility.vehicle-positions.v1"].schema: unknown schema '
        "'tsunagu.mobility.VehiclePosition' (some schema files failed to load)"
    )
    assert len(problems) == 2
