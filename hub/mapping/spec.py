"""The mapping file: one rule per target field, read with the line of every key.

```yaml
mapping: kaga-positions-to-ishikawa      # name (goes into output headers as name@version)
version: 1
source: tsunagu.mobility.VehiclePosition  # full name of the source schema
target: ishikawa.transit.BusLocation      # full name of the target schema
fields:                                   # one rule per target field
  id:       {from: id, id: "urn:ngsi-ld:BusLocation:ishikawa:{namespace}-{local}"}
  lat:      {from: latitude, privacy: {grid: 0.001}}
  speedKmh: {from: speed, unit: [m/s, km/h]}
  city:     {const: Kaga}
  status:   {from: current_status, table: statuses, default: unknown}
  seenAt:   {from: observed_at, privacy: {truncate: 1m}}
  vehicle:  {from: vehicle_id, privacy: {hash: {secret_env: ISHIKAWA_HASH_KEY}}}
  plate:    {from: license_plate, privacy: {drop: true}}   # always null (kept in the shape)
  seenLocal: {from: observed_at, timezone: Asia/Tokyo}     # ISO 8601 local time, with offset
  stopName: {from: stop.name}                             # a field path into a nested record
  label:    {function: kaga-label, from: [route_id, vehicle_label]}
drop: [license_plate]                     # source fields deliberately not carried
tables:
  statuses: {STOPPED_AT: stopped, IN_TRANSIT_TO: moving}
```

``function`` names a Python function registered in the entry-point group
``tsunagu.mapping_functions`` (``name = "package.module:function"``) for what a table
cannot express: it is called with the values of ``from`` (one field or a list), or with
the whole record when there is no ``from``; what it raises becomes a ``MappingError``
naming it, and the bridge sends that record to its dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.config.yaml_source import KeyPath, read_yaml
from hub.errors import ConfigError, Problem

__all__ = ["FieldRule", "MappingSpec", "load_mapping"]

_RULE_KEYS = {
    "from",
    "const",
    "id",
    "unit",
    "table",
    "default",
    "privacy",
    "timezone",
    "function",
}


@dataclass(frozen=True)
class FieldRule:
    """How one target field is produced."""

    target: str
    source: str | None = None  # a field, or a dotted path into nested records
    sources: tuple[str, ...] = ()  # several fields, for a function
    const: Any = None
    has_const: bool = False
    id_template: str | None = None
    unit: tuple[str, str] | None = None
    table: str | None = None
    default: Any = None
    has_default: bool = False
    privacy: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None
    function: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class MappingSpec:
    """A loaded mapping file; ``line_of`` places a key path in it for error messages."""

    path: Path
    name: str
    version: int
    source: str
    target: str
    rules: tuple[FieldRule, ...]
    drop: tuple[str, ...]
    tables: dict[str, dict[str, Any]]
    lines: dict[KeyPath, int]

    def problem(self, key: KeyPath, message: str) -> Problem:
        return Problem(str(self.path), self.lines.get(key), ".".join(map(str, key)), message)


def load_mapping(path: Path) -> MappingSpec:
    """Read ``path``; ConfigError listing every located problem of its shape."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read: {exc}")]) from exc
    document = read_yaml(text, str(path))
    problems = list(document.problems)
    data = document.data if isinstance(document.data, dict) else {}
    lines = {key: line for key in _paths(data) if (line := document.line_of(key)) is not None}

    def located(key: KeyPath, message: str) -> None:
        problems.append(Problem(str(path), lines.get(key), ".".join(map(str, key)), message))

    for key in ("mapping", "source", "target"):
        if not isinstance(data.get(key), str) or not data.get(key):
            located((key,), f"{key} is required (a non-empty string)")
    version = data.get("version", 1)
    if not isinstance(version, int) or version < 1:
        located(("version",), "version is a positive integer")
    unknown = set(data) - {"mapping", "version", "source", "target", "fields", "drop", "tables"}
    for key in sorted(map(str, unknown)):
        located((key,), f"unknown key {key!r}")
    rules: list[FieldRule] = []
    fields = data.get("fields")
    if not isinstance(fields, dict) or not fields:
        located(("fields",), "fields maps each target field to its rule")
        fields = {}
    for target, rule in fields.items():
        parsed = _rule(str(target), rule, located, lines)
        if parsed is not None:
            rules.append(parsed)
    tables = data.get("tables") or {}
    if not isinstance(tables, dict):
        located(("tables",), "tables maps a table name to {source value: target value}")
        tables = {}
    drop = data.get("drop") or []
    if problems:
        raise ConfigError(problems)
    return MappingSpec(
        path,
        str(data["mapping"]),
        int(version),
        str(data["source"]),
        str(data["target"]),
        tuple(rules),
        tuple(str(d) for d in drop),
        {str(k): dict(v) for k, v in tables.items()},
        lines,
    )


Located = Callable[[KeyPath, str], None]


def _rule(target: str, rule: Any, located: Located, lines: dict[KeyPath, int]) -> FieldRule | None:
    """One target field's rule, its shape problems reported through ``located``."""
    here: KeyPath = ("fields", target)
    if not isinstance(rule, dict):
        located(here, "a rule is a mapping, e.g. {from: source_field}")
        return None
    for key in sorted(set(rule) - _RULE_KEYS):
        located((*here, key), f"unknown rule key {key!r} (known: {', '.join(sorted(_RULE_KEYS))})")
    unit = rule.get("unit")
    if unit is not None and not (isinstance(unit, list) and len(unit) == 2):
        located((*here, "unit"), "unit is [from_unit, to_unit], e.g. [m/s, km/h]")
        unit = None
    if "from" not in rule and "const" not in rule and "function" not in rule:
        located(here, "a rule needs from: (a source field), const: or function:")
    given = rule.get("from")
    sources: tuple[str, ...] = ()
    if isinstance(given, list):
        if "function" not in rule:
            located((*here, "from"), "a list of fields needs a function: to combine them")
        sources, given = tuple(str(g) for g in given), None
    elif given is not None and not isinstance(given, str):
        located((*here, "from"), "from is a field name (or a list, with function:)")
        given = None
    return FieldRule(
        target=target,
        source=given,
        sources=sources,
        const=rule.get("const"),
        has_const="const" in rule,
        id_template=rule.get("id"),
        unit=(str(unit[0]), str(unit[1])) if unit else None,
        table=rule.get("table"),
        default=rule.get("default"),
        has_default="default" in rule,
        privacy=dict(rule.get("privacy") or {}),
        timezone=rule.get("timezone"),
        function=rule.get("function"),
        line=lines.get(here),
    )


def _paths(data: Any, prefix: KeyPath = ()) -> list[KeyPath]:
    out: list[KeyPath] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    return out
