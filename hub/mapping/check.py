"""Type-check a mapping against its source and target schemas before anything runs."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.errors import Problem
from hub.mapping.compile import UNIT_FACTORS, id_template_problems
from hub.mapping.functions import MappingFunctionError, mapping_function
from hub.mapping.spec import FieldRule, MappingSpec

__all__ = ["check_mapping"]

_NUMERIC = {"int": 0, "long": 1, "float": 2, "double": 3}


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema.get("fields", [])}


def _branches(avro_type: Any) -> list[Any]:
    return avro_type if isinstance(avro_type, list) else [avro_type]


def _kind(avro_type: Any) -> str:
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in {"timestamp-millis", "timestamp-micros"}:
            return "timestamp"
        return str(avro_type.get("type"))
    return str(avro_type)


def _non_null(avro_type: Any) -> list[Any]:
    return [b for b in _branches(avro_type) if b != "null"]


def _fits(source: Any, target: Any) -> bool:
    """True when every non-null value of ``source`` can be written as ``target``."""
    targets = {_kind(t) for t in _non_null(target)}
    for branch in _non_null(source):
        kind = _kind(branch)
        if kind in targets:
            continue
        if kind in _NUMERIC and any(
            t in _NUMERIC and _NUMERIC[t] >= _NUMERIC[kind] for t in targets
        ):
            continue  # Avro's promotions: int -> long -> float -> double
        if kind == "timestamp" and targets & {"long"}:
            continue
        if kind == "enum" and "string" in targets:
            continue
        return False
    return True


def _named_types(schema: Any, found: dict[str, Any]) -> dict[str, Any]:
    """Every named type (record, enum, fixed) defined in ``schema``, by name and full name."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") in {"record", "enum", "fixed"} and "name" in schema:
            name = schema["name"]
            namespace = schema.get("namespace")
            found[name] = schema
            if namespace and "." not in name:
                found[f"{namespace}.{name}"] = schema
            for field in schema.get("fields", []):
                _named_types(field["type"], found)
        elif schema.get("type") in {"array", "map"}:
            _named_types(schema.get("items", schema.get("values")), found)
    return found


def _path_type(schema: dict[str, Any], path: str) -> Any:
    """The Avro type at a dotted path of records (nullable when a step may be null), or
    None when a step does not exist."""
    named = _named_types(schema, {})
    current: Any = schema
    nullable = False
    for part in path.split("."):
        records = [
            named.get(b, b) if isinstance(b, str) else b for b in _branches(current) if b != "null"
        ]
        record = next((r for r in records if isinstance(r, dict) and "fields" in r), None)
        if record is None:
            return None
        nullable = nullable or "null" in _branches(current)
        field = _fields(record).get(part)
        if field is None:
            return None
        current = field["type"]
    if nullable and "null" not in _branches(current):
        return ["null", *_branches(current)]
    return current


_PRIVACY = {"drop", "hash", "grid", "truncate"}


def _rule_problems(
    spec: MappingSpec, rule: FieldRule, source_schema: dict[str, Any], wanted: Any
) -> tuple[list[Problem], Any]:
    """Problems of the parts of a rule that do not depend on the source field's type, and
    the type the rule produces when those parts decide it (else None)."""
    here = ("fields", rule.target)
    produced: Any = None
    known = ", ".join(sorted(_PRIVACY))
    problems = [
        spec.problem((*here, "privacy", key), f"unknown privacy rule {key!r} (known: {known})")
        for key in sorted(set(rule.privacy) - _PRIVACY)
    ]
    if rule.privacy.get("drop") and "null" not in _branches(wanted):
        problems.append(
            spec.problem(
                (*here, "privacy", "drop"),
                f"a dropped field is null, but {rule.target!r} may not be null",
            )
        )
    if rule.function is not None:
        try:
            mapping_function(rule.function)
        except MappingFunctionError as exc:
            problems.append(spec.problem((*here, "function"), str(exc)))
        problems += [
            spec.problem((*here, "from"), f"the source schema has no field {name!r}")
            for name in rule.sources
            if _path_type(source_schema, name) is None
        ]
        produced = "any"
    if rule.timezone is not None:
        try:
            ZoneInfo(rule.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                spec.problem((*here, "timezone"), f"unknown time zone {rule.timezone!r}")
            )
        produced = "string"
    if rule.privacy.get("hash") is not None:
        produced = "string"
    return problems, produced


def _table_problems(spec: MappingSpec, rule: FieldRule, given: Any) -> tuple[list[Problem], Any]:
    """What is wrong with the rule's lookup table for a source of type ``given``, and the
    type the table produces (None when there is no such table)."""
    here = ("fields", rule.target, "table")
    table = spec.tables.get(rule.table or "")
    if table is None:
        return [spec.problem(here, f"no table {rule.table!r}")], None
    symbols = [s for b in _non_null(given) if isinstance(b, dict) for s in b.get("symbols", [])]
    missing = [s for s in symbols if s not in table]
    problems = []
    if missing and not rule.has_default:
        problems.append(
            spec.problem(
                here,
                f"table {rule.table!r} misses source symbols {', '.join(missing)} "
                "(add them or a default)",
            )
        )
    values = {type(v).__name__ for v in table.values()}
    produced = "string" if values <= {"str"} else "long" if values <= {"int"} else "double"
    return problems, produced


def check_mapping(
    spec: MappingSpec, source_schema: dict[str, Any], target_schema: dict[str, Any]
) -> list[Problem]:
    """Every problem of ``spec`` against the two schemas, each naming file, line and field."""
    target = _fields(target_schema)
    produced = {rule.target for rule in spec.rules}
    problems = [
        spec.problem(("fields",), f"target field {name!r} is required but not produced")
        for name, field in target.items()
        if name not in produced and "default" not in field
    ]
    for rule in spec.rules:
        here = ("fields", rule.target)
        wanted = target.get(rule.target)
        if wanted is None:
            problems.append(spec.problem(here, f"the target schema has no field {rule.target!r}"))
            continue
        extra, decided = _rule_problems(spec, rule, source_schema, wanted["type"])
        problems += extra
        if rule.has_const or rule.source is None or rule.privacy.get("drop"):
            continue
        given_type = _path_type(source_schema, rule.source)
        if given_type is None:
            problems.append(
                spec.problem((*here, "from"), f"the source schema has no field {rule.source!r}")
            )
            continue
        if decided == "any":
            continue  # a function's result is checked when it is encoded
        given = {"type": given_type}
        produced_type: Any = given["type"]
        if rule.table is not None:
            extra, produced_type = _table_problems(spec, rule, given["type"])
            problems += extra
            if produced_type is None:
                continue
        if rule.unit is not None:
            if tuple(rule.unit) not in UNIT_FACTORS:
                problems.append(
                    spec.problem((*here, "unit"), f"no conversion {rule.unit[0]} -> {rule.unit[1]}")
                )
            produced_type = "double"
        if rule.id_template is not None:
            produced_type = "string"
            problems += [
                spec.problem((*here, "id"), message)
                for message in id_template_problems(rule.id_template)
            ]
        if decided is not None:
            produced_type = decided
        nullable_source = "null" in _branches(given["type"]) and not rule.has_default
        if nullable_source and "null" not in _branches(wanted["type"]):
            problems.append(
                spec.problem(
                    (*here, "from"),
                    f"{rule.source!r} may be null but {rule.target!r} may not (give a default)",
                )
            )
        if not _fits(produced_type, wanted["type"]):
            problems.append(
                spec.problem(
                    (*here, "from"),
                    f"{rule.source!r} ({_describe(produced_type)}) does not fit "
                    f"{rule.target!r} ({_describe(wanted['type'])})",
                )
            )
    return problems


def _describe(avro_type: Any) -> str:
    return " | ".join(_kind(b) for b in _branches(avro_type))
