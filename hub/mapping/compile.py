"""Compile a checked mapping into a function of records: one small closure per target field."""

from __future__ import annotations

import hashlib
import hmac
import os
import string
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.errors import TsunaguError
from hub.mapping.functions import mapping_function
from hub.mapping.spec import FieldRule, MappingSpec

__all__ = [
    "UNIT_FACTORS",
    "MappingError",
    "compile_key_mapping",
    "compile_mapping",
    "id_template_problems",
]

# Each unit in terms of a base unit of its quantity; any two of one quantity convert.
_UNITS: dict[str, tuple[str, float]] = {
    "m/s": ("speed", 1.0),
    "km/h": ("speed", 1 / 3.6),
    "mph": ("speed", 0.44704),
    "kn": ("speed", 1852 / 3600),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "mi": ("length", 1609.344),
    "ft": ("length", 0.3048),
    "ms": ("time", 0.001),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "g": ("mass", 0.001),
    "kg": ("mass", 1.0),
    "t": ("mass", 1000.0),
}
UNIT_FACTORS: dict[tuple[str, str], float] = {
    (a, b): fa / fb
    for a, (qa, fa) in _UNITS.items()
    for b, (qb, fb) in _UNITS.items()
    if qa == qb and a != b
}

# What a step raises for a value it cannot convert: the record's problem, not the hub's.
_STEP_ERRORS = "(ValueError, TypeError, KeyError, ArithmeticError)"

_TRUNCATE = {"1s": 1_000, "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}


class MappingError(TsunaguError, ValueError):
    """A record the mapping cannot convert; names the target field."""

    blame = "input"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


Step = Callable[[Any], Any]


_URN_FIELDS = {"type": 0, "namespace": 1, "local": 2}


def id_template_problems(template: str) -> list[str]:
    """What is wrong with an id template (fields other than the URN's parts, bad braces)."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [f"id template {template!r}: {exc}"]
    return [
        f"id template {template!r}: {{{name}}} is not one of {{type}}, {{namespace}}, {{local}}"
        for name in names
        if name not in _URN_FIELDS
    ]


def _id_rewriter(template: str) -> Step:
    """The id template as a step: its named fields become positions, so each id costs one
    split and one format (keyword arguments made it the mapping's dearest step)."""
    pieces: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        pieces.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            position = _URN_FIELDS[name]  # check_mapping allows only these names
            suffix = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            pieces.append(f"{{{position}{suffix}}}")
    fill = "".join(pieces).format

    def rewrite(value: str) -> str:
        parts = value.split(":", 4)
        if len(parts) != 5 or parts[0] != "urn" or parts[1] != "ngsi-ld":
            raise ValueError(f"{value!r} is not an urn:ngsi-ld:<Type>:<namespace>:<local id>")
        return fill(parts[2], parts[3], parts[4])

    return rewrite


def _steps(rule: FieldRule, spec: MappingSpec, secrets: Mapping[str, bytes]) -> list[Step]:
    steps: list[Step] = []
    if rule.id_template is not None:
        steps.append(_id_rewriter(rule.id_template))
    if rule.table is not None:
        table = spec.tables[rule.table]
        default, has_default = rule.default, rule.has_default

        def look_up(v: Any) -> Any:
            if v in table:
                return table[v]
            if has_default:
                return default
            raise ValueError(f"{v!r} is not in table {rule.table!r}")

        steps.append(look_up)
    if rule.unit is not None:
        factor = UNIT_FACTORS[rule.unit]
        steps.append(lambda v: v * factor)
    grid = rule.privacy.get("grid")
    if grid is not None:
        size = float(grid)
        steps.append(lambda v: round(round(v / size) * size, 9))
    truncate = rule.privacy.get("truncate")
    if truncate is not None:
        unit = _TRUNCATE[str(truncate)]
        steps.append(lambda v: v - v % unit)
    hashing = rule.privacy.get("hash")
    if hashing is not None:
        name = hashing.get("secret_env") if isinstance(hashing, dict) else None
        key = secrets.get(name) if name else None
        if key is None and name:
            key = os.environ.get(name, "").encode() or None
        if key is None:
            raise MappingError(rule.target, f"hash needs the secret in ${name}")
        secret = key
        steps.append(lambda v: hmac.new(secret, str(v).encode(), hashlib.sha256).hexdigest())
    if rule.timezone is not None:
        zone = ZoneInfo(rule.timezone)
        steps.append(
            lambda v: datetime.fromtimestamp(v / 1000, zone).isoformat(timespec="milliseconds")
        )
    return steps


def _getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """Reads a field, or a dotted path into nested records (None when a step is null)."""
    if "." not in path:
        return lambda record: record.get(path)
    parts = path.split(".")

    def get(record: Mapping[str, Any]) -> Any:
        value: Any = record
        for part in parts:
            if value is None:
                return None
            value = value.get(part)
        return value

    return get


def _called(rule: FieldRule) -> Callable[[dict[str, Any]], Any]:
    """The value of a ``function:`` rule for a record; its exceptions name the function."""
    assert rule.function is not None
    function, name = mapping_function(rule.function), rule.function
    if rule.sources:
        getters = [_getter(s) for s in rule.sources]
        arguments: Callable[[dict[str, Any]], list[Any]] = lambda r: [g(r) for g in getters]  # noqa: E731
    elif rule.source is not None:
        one = _getter(rule.source)
        arguments = lambda r: [one(r)]  # noqa: E731
    else:
        arguments = lambda r: [r]  # noqa: E731

    def call(record: dict[str, Any]) -> Any:
        try:
            return function(*arguments(record))
        except Exception as exc:  # someone else's code: any failure is this record's,
            if isinstance(exc, TsunaguError) and exc.blame != "input":
                raise  # unless it says the fault is elsewhere: then the bridge waits
            raise MappingError(
                rule.target, f"function {name!r} raised {type(exc).__name__}: {exc}"
            ) from exc

    return call


def compile_key_mapping(
    spec: MappingSpec,
    source_key: str,
    target_key: str,
    secrets: Mapping[str, bytes] | None = None,
) -> Callable[[str], str] | None:
    """How a source key becomes the target key, when the mapping makes the target key
    field from the source key field alone (an id template, a table...): a tombstone has a
    key and no record, and this is what lets it cross the bridge. None otherwise."""
    rule = next((r for r in spec.rules if r.target == target_key), None)
    if (
        rule is None
        or rule.source != source_key
        or rule.function is not None
        or rule.has_const
        or rule.privacy.get("drop")
    ):
        return None
    steps = _steps(rule, spec, secrets or {})

    def key_of(key: str) -> str:
        value: Any = key
        try:
            for step in steps:
                value = step(value)
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            raise MappingError(target_key, str(exc)) from exc
        return str(value)

    return key_of


def compile_mapping(
    spec: MappingSpec,
    source_schema: dict[str, Any],
    target_schema: dict[str, Any],
    secrets: Mapping[str, bytes] | None = None,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function converting one source record (as decoded) into a target record."""
    del source_schema  # checked by check_mapping; resolution happened at decode time
    nullable = {
        f["name"]
        for f in target_schema.get("fields", [])
        if isinstance(f["type"], list) and "null" in f["type"]
    }
    # One function per mapping, generated: a field is a few lines of straight code with its
    # steps as bound constants, instead of a loop over a plan that unpacks each rule (the
    # loop was the larger half of the mapping's time in the bridge).
    lines = ["def convert(record):", "    get = record.get"]
    bound: dict[str, Any] = {"MappingError": MappingError}
    outputs: list[str] = []
    for index, rule in enumerate(spec.rules):
        value, target = f"v{index}", repr(rule.target)
        outputs.append(f"{target}: {value}")
        if rule.has_const or rule.privacy.get("drop"):
            bound[f"const{index}"] = rule.const  # a constant, or None for a dropped field
            lines.append(f"    {value} = const{index}")
            continue
        if rule.function is not None:
            bound[f"read{index}"] = _called(rule)
            lines.append(f"    {value} = read{index}(record)")
        elif "." in (rule.source or ""):
            bound[f"read{index}"] = _getter(rule.source or "")
            lines.append(f"    {value} = read{index}(record)")
        else:
            lines.append(f"    {value} = get({rule.source or ''!r})")
        lines.append(f"    if {value} is None:")
        if rule.has_default and rule.table is None:
            bound[f"default{index}"] = rule.default
            lines.append(f"        {value} = default{index}")
        elif rule.target in nullable:
            lines.append("        pass")
        else:
            message = repr(f"no value and {rule.target!r} is required")
            lines.append(f"        raise MappingError({target}, {message})")
        steps = _steps(rule, spec, secrets or {})
        if steps:
            lines.append("    else:")
            lines.append("        try:")
            for number, step in enumerate(steps):
                bound[f"step{index}_{number}"] = step
                lines.append(f"            {value} = step{index}_{number}({value})")
            lines.append(
                "        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:"
            )
            lines.append(f"            raise MappingError({target}, str(exc)) from exc")
    lines.append(f"    return {{{', '.join(outputs)}}}")
    # Targets and sources are repr()s of the mapping's strings; everything else is a name
    # bound here, so the text runs nothing from the mapping file.
    exec(compile("\n".join(lines) + "\n", f"<mapping {spec.name}>", "exec"), bound)  # noqa: S102
    convert: Callable[[dict[str, Any]], dict[str, Any]] = bound["convert"]
    return convert
