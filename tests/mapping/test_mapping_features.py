"""Every feature of the mapping language, and every error it reports, on small schemas."""

from __future__ import annotations

import hashlib
import hmac
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hub.mapping import MappingError, check_mapping, compile_mapping, load_mapping

SOURCE: dict[str, Any] = {
    "type": "record",
    "name": "Bus",
    "namespace": "src",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "label", "type": ["null", "string"], "default": None},
        {"name": "route_type", "type": "int"},
        {"name": "prefecture", "type": "string"},
        {"name": "speed", "type": ["null", "double"], "default": None},
        {"name": "distance_km", "type": "double"},
        {"name": "lat", "type": "double"},
        {"name": "seen", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {
            "name": "status",
            "type": {"type": "enum", "name": "Status", "symbols": ["STOPPED", "MOVING", "GONE"]},
        },
        {
            "name": "stop",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "StopRef",
                    "fields": [{"name": "name", "type": "string"}],
                },
            ],
            "default": None,
        },
        {"name": "plate", "type": ["null", "string"], "default": None},
    ],
}


def target(*fields: tuple[str, Any]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": "T",
        "namespace": "dst",
        "fields": [{"name": n, "type": t} for n, t in fields],
    }


def mapping(tmp_path: Path, fields: str, extra: str = "") -> Any:
    path = tmp_path / "m.yaml"
    path.write_text(
        "mapping: m\nversion: 2\nsource: src.Bus\ntarget: dst.T\nfields:\n"
        + textwrap.indent(textwrap.dedent(fields).strip() + "\n", "  ")
        + textwrap.dedent(extra)
    )
    return load_mapping(path)


def run(
    tmp_path: Path, fields: str, schema: dict[str, Any], record: dict[str, Any], extra: str = ""
) -> dict[str, Any]:
    spec = mapping(tmp_path, fields, extra)
    assert check_mapping(spec, SOURCE, schema) == []
    return compile_mapping(spec, SOURCE, schema)(record)


BUS: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:kaga:bus-7",
    "label": "7",
    "route_type": 3,
    "prefecture": "17",
    "speed": 10.0,
    "distance_km": 2.5,
    "lat": 36.56789,
    "seen": 1_700_000_012_345,
    "status": "MOVING",
    "stop": {"name": "Kanazawa Station"},
    "plate": "石川 500 あ 12-34",
}


def test_renames_constants_and_field_paths(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        busId: {from: id}
        city: {const: Kaga}
        stopName: {from: stop.name}
        """,
        target(("busId", "string"), ("city", "string"), ("stopName", ["null", "string"])),
        BUS,
    )
    assert out == {"busId": BUS["id"], "city": "Kaga", "stopName": "Kanazawa Station"}
    spec = mapping(tmp_path, "busId: {from: id}\nstopName: {from: stop.name}\n")
    schema = target(("busId", "string"), ("stopName", ["null", "string"]))
    assert compile_mapping(spec, SOURCE, schema)({**BUS, "stop": None})["stopName"] is None


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [("[m/s, km/h]", 10.0, 36.0), ("[m/s, mph]", 10.0, 22.369), ("[m/s, kn]", 10.0, 19.438)],
)
def test_unit_conversions(tmp_path: Path, unit: str, value: float, expected: float) -> None:
    out = run(
        tmp_path,
        f"v: {{from: speed, unit: {unit}}}",
        target(("v", ["null", "double"])),
        {**BUS, "speed": value},
    )
    assert out["v"] == pytest.approx(expected, rel=1e-4)
    meters = run(tmp_path, "m: {from: distance_km, unit: [km, m]}", target(("m", "double")), BUS)
    assert meters["m"] == pytest.approx(2500.0)


def test_code_tables_route_types_and_prefecture_codes(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        mode: {from: route_type, table: route_types, default: other}
        prefecture: {from: prefecture, table: prefectures}
        state: {from: status, table: statuses, default: unknown}
        """,
        target(("mode", "string"), ("prefecture", "string"), ("state", "string")),
        BUS,
        """
        tables:
          route_types: {0: tram, 1: subway, 2: rail, 3: bus}
          prefectures: {"16": 富山県, "17": 石川県, "18": 福井県}
          statuses: {STOPPED: stopped, MOVING: moving}
        """,
    )
    assert out == {"mode": "bus", "prefecture": "石川県", "state": "moving"}


def test_a_value_missing_from_a_table_without_default_is_a_mapping_error(tmp_path: Path) -> None:
    spec = mapping(
        tmp_path,
        "prefecture: {from: prefecture, table: prefectures}",
        'tables:\n  prefectures: {"17": 石川県}\n',
    )
    convert = compile_mapping(spec, SOURCE, target(("prefecture", "string")))
    with pytest.raises(MappingError, match=r"^prefecture: '99' is not in table 'prefectures'"):
        convert({**BUS, "prefecture": "99"})


def test_id_templates_rewrite_ids_into_the_target_namespace(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        'id: {from: id, id: "urn:ngsi-ld:BusLocation:ishikawa:{namespace}-{local}"}',
        target(("id", "string")),
        BUS,
    )
    assert out["id"] == "urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-7"
    spec = mapping(tmp_path, 'id: {from: id, id: "x:{local}"}')
    with pytest.raises(MappingError, match="is not an urn:ngsi-ld"):
        compile_mapping(spec, SOURCE, target(("id", "string")))({**BUS, "id": "bus-7"})


def test_time_zone_conversion_to_local_time(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        "local: {from: seen, timezone: Asia/Tokyo}",
        target(("local", "string")),
        {**BUS, "seen": 1_700_000_000_000},
    )
    assert out["local"] == "2023-11-15T07:13:20.000+09:00"


def test_privacy_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AREA_HASH_KEY", "s3cret")
    out = run(
        tmp_path,
        """
        vehicle: {from: id, privacy: {hash: {secret_env: AREA_HASH_KEY}}}
        lat: {from: lat, privacy: {grid: 0.01}}
        seen: {from: seen, privacy: {truncate: 1m}}
        plate: {from: plate, privacy: {drop: true}}
        """,
        target(
            ("vehicle", "string"),
            ("lat", "double"),
            ("seen", {"type": "long", "logicalType": "timestamp-millis"}),
            ("plate", ["null", "string"]),
        ),
        BUS,
        "drop: [label]\n",
    )
    expected = hmac.new(b"s3cret", BUS["id"].encode(), hashlib.sha256).hexdigest()
    minute = BUS["seen"] - BUS["seen"] % 60_000
    assert out == {"vehicle": expected, "lat": 36.57, "seen": minute, "plate": None}
    monkeypatch.delenv("AREA_HASH_KEY")
    spec = mapping(tmp_path, "vehicle: {from: id, privacy: {hash: {secret_env: AREA_HASH_KEY}}}")
    with pytest.raises(MappingError, match=r"hash needs the secret in \$AREA_HASH_KEY"):
        compile_mapping(spec, SOURCE, target(("vehicle", "string")))


@pytest.fixture
def functions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package (a real .dist-info on sys.path) registering two functions."""
    site = tmp_path / "site"
    (site / "kaga_functions-1.0.dist-info").mkdir(parents=True)
    (site / "kaga_functions.py").write_text(
        "def label(route, number):\n    return f'{route}/{number}'\n\n"
        "def broken(value):\n    raise RuntimeError('the city changed its codes')\n"
    )
    info = site / "kaga_functions-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kaga-functions\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[tsunagu.mapping_functions]\n"
        "kaga-label = kaga_functions:label\n"
        "kaga-broken = kaga_functions:broken\n"
    )
    monkeypatch.syspath_prepend(str(site))


@pytest.mark.usefixtures("functions")
def test_python_functions_registered_by_entry_point(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        "label: {function: kaga-label, from: [route_type, label]}",
        target(("label", "string")),
        BUS,
    )
    assert out == {"label": "3/7"}
    spec = mapping(tmp_path, "label: {function: kaga-broken, from: label}")
    convert = compile_mapping(spec, SOURCE, target(("label", "string")))
    with pytest.raises(
        MappingError,
        match=r"^label: function 'kaga-broken' raised RuntimeError: the city changed its codes",
    ):
        convert(BUS)


CHECKS = [
    ("busId: {from: id}", target(("busId", "string"), ("lat", "double")),
     "fields: target field 'lat' is required but not produced"),
    ("n: {from: label, default: x}", target(("n", "int")),
     "fields.n.from: 'label' (null | string) does not fit 'n' (int)"),
    ("s: {from: status, table: t}", target(("s", "string")),
     "fields.s.table: table 't' misses source symbols GONE (add them or a default)"),
    ("x: {from: nope}", target(("x", "string")),
     "fields.x.from: the source schema has no field 'nope'"),
    ("x: {from: stop.nope}", target(("x", ["null", "string"])),
     "fields.x.from: the source schema has no field 'stop.nope'"),
    ("x: {from: label}", target(("y", ["null", "string"])),
     "fields.x: the target schema has no field 'x'"),
    ("x: {from: seen, timezone: Mars/Olympus}", target(("x", "string")),
     "fields.x.timezone: unknown time zone 'Mars/Olympus'"),
    ("x: {from: lat, privacy: {blur: 3}}", target(("x", "double")),
     "fields.x.privacy.blur: unknown privacy rule 'blur'"),
    ("x: {from: plate, privacy: {drop: true}}", target(("x", "string")),
     "fields.x.privacy.drop: a dropped field is null, but 'x' may not be null"),
    ("x: {from: speed, unit: [m/s, kg]}", target(("x", ["null", "double"])),
     "fields.x.unit: no conversion m/s -> kg"),
    ("x: {from: label}", target(("x", "string")),
     "fields.x.from: 'label' may be null but 'x' may not (give a default)"),
    ("x: {function: no-such-function, from: label}", target(("x", "string")),
     "fields.x.function: no mapping function 'no-such-function'"),
    ("x: {from: id, id: 'urn:ngsi-ld:Bus:b:{city}-{local}'}", target(("x", "string")),
     "fields.x.id: id template 'urn:ngsi-ld:Bus:b:{city}-{local}': {city} is not one of"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "schema", "message"), CHECKS)
def test_check_reports_each_problem_with_its_line_and_field(
    tmp_path: Path, fields: str, schema: dict[str, Any], message: str
) -> None:
    spec = mapping(tmp_path, fields, "tables:\n  t: {STOPPED: s, MOVING: m}\n")
    problems = [str(p) for p in check_mapping(spec, SOURCE, schema)]
    located = [p for p in problems if message in p]
    assert located, problems
    assert located[0].startswith(f"{tmp_path / 'm.yaml'}:")
