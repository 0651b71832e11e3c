"""Strict checking of JSON records against an Avro schema, for records published over HTTP.

The Avro encoder takes Python values as adapters make them and is lenient where JSON is
ambiguous (``true`` is 1 for an int, 1.0 for a double; a key the schema does not have is
ignored). A publisher's JSON is checked here first, so it is refused rather than coerced or
dropped: only JSON booleans for booleans, only JSON integers for ints and longs (and the time
types stored as them), numbers but not booleans for floats and doubles, only symbols of the
enum, null only where a union allows it, no field the schema does not name, every field
without a default present. fastavro's own validator accepts booleans as numbers and names no
field, so it does not serve.

A checker is built once per schema from closures; it names each problem by a dotted path
(``position.latitude``, ``stops[3].name``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FieldProblem", "RecordChecker"]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """Why the value at ``field`` (a dotted path into the record) does not fit the schema."""

    field: str
    detail: str


#: Appends the problems of ``value`` (at ``path``) to the list.
_Check = Callable[[Any, str, list[FieldProblem]], None]


class _Full(Exception):
    """Raised by ``_Problems.append`` when the list is full: checking stops there."""

    def __init__(self, problems: _Problems) -> None:
        super().__init__()
        self.problems = problems


class _Problems(list[FieldProblem]):
    """A list of problems that stops the check when it holds ``limit`` of them, so a record
    of a million unknown fields costs no more than the few problems anyone reads."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def append(self, problem: FieldProblem) -> None:
        super().append(problem)
        if len(self) >= self.limit:
            raise _Full(self)


_INT = (-(2**31), 2**31 - 1)
_LONG = (-(2**63), 2**63 - 1)
_FLOAT_MAX = 3.4028234663852886e38
# Logical types stored as an int or long whose JSON form is a count of time units.
_TIME_UNITS = {
    "timestamp-millis": "milliseconds since the epoch",
    "timestamp-micros": "microseconds since the epoch",
    "local-timestamp-millis": "milliseconds since the epoch",
    "local-timestamp-micros": "microseconds since the epoch",
    "time-millis": "milliseconds after midnight",
    "time-micros": "microseconds after midnight",
    "date": "days since the epoch",
}
_SHOWN_SYMBOLS = 12


def _got(value: Any) -> str:
    """How a JSON value is named in a problem."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "a boolean"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _type_name(schema: Any) -> str:
    """A union branch as named in a problem: its type, or the name of a named type."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = schema["type"]
    if not isinstance(kind, str):
        return _type_name(kind)
    return str(schema.get("name", kind))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_null(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if value is not None:
        problems.append(FieldProblem(path, f"expected null, got {_got(value)}"))


def _check_boolean(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if value is not True and value is not False:
        problems.append(FieldProblem(path, f"expected a boolean, got {_got(value)}"))


def _check_string(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if value.__class__ is not str:
        problems.append(FieldProblem(path, f"expected a string, got {_got(value)}"))


def _check_bytes(value: Any, path: str, problems: list[FieldProblem]) -> None:
    problems.append(FieldProblem(path, "bytes cannot be published as JSON"))


def _integer(bounds: tuple[int, int], expected: str) -> _Check:
    low, high = bounds

    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        # Exactly int: bool is an int subclass, and a float (even 2.0) is not an integer.
        if value.__class__ is not int:
            problems.append(FieldProblem(path, f"expected {expected}, got {_got(value)}"))
        elif not low <= value <= high:
            problems.append(FieldProblem(path, f"{value} is out of range for {expected}"))

    return check


def _number(limit: float | None) -> _Check:
    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        kind = value.__class__
        if kind is not float and kind is not int:
            problems.append(FieldProblem(path, f"expected a number, got {_got(value)}"))
        elif limit is not None and abs(value) > limit:
            problems.append(FieldProblem(path, f"{value} is out of range for a float"))

    return check


_PRIMITIVES: dict[str, _Check] = {
    "null": _check_null,
    "boolean": _check_boolean,
    "int": _integer(_INT, "an integer (32-bit)"),
    "long": _integer(_LONG, "an integer"),
    "float": _number(_FLOAT_MAX),
    "double": _number(None),
    "string": _check_string,
    "bytes": _check_bytes,
}


class RecordChecker:
    """Checks JSON values (as parsed) against one Avro schema, in its JSON or fastavro-parsed
    form; built once, used for every record published to a topic."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._named: dict[str, _Check] = {}
        self._referenced: set[str] = set()
        self._check = self._build(dict(schema), "")
        #: The names of the record's own fields (empty when the schema is not a record).
        self.fields = frozenset(f["name"] for f in schema.get("fields", ()))
        missing = self._referenced - self._named.keys()
        if missing:
            raise ValueError(f"the schema refers to undefined types: {sorted(missing)}")

    def check(self, value: Any, limit: int = 100) -> list[FieldProblem]:
        """The problems of ``value``, the first ``limit`` (at least 1) of them; empty when
        it fits."""
        problems = _Problems(max(1, limit))
        try:
            self._check(value, "", problems)
        except _Full as full:
            if full.problems is not problems:
                raise
        return list(problems)

    # --- building ------------------------------------------------------------------------

    def _build(self, schema: Any, namespace: str) -> _Check:
        if isinstance(schema, str):
            primitive = _PRIMITIVES.get(schema)
            return primitive if primitive is not None else self._reference(schema, namespace)
        if isinstance(schema, list):
            return self._union(schema, namespace)
        kind = schema["type"]
        if not isinstance(kind, str):  # {"type": {...}} wraps a complete schema
            return self._build(kind, namespace)
        if kind in _PRIMITIVES:
            unit = _TIME_UNITS.get(schema.get("logicalType", ""))
            if unit is not None and kind in ("int", "long"):
                bounds = _INT if kind == "int" else _LONG
                return _integer(bounds, f"an integer ({unit})")
            return _PRIMITIVES[kind]
        if kind == "enum":
            full, _ = self._full_name(schema, namespace)
            self._named[full] = check = _enum(schema["symbols"])
            return check
        if kind == "fixed":
            full, _ = self._full_name(schema, namespace)
            self._named[full] = _check_bytes
            return _check_bytes
        if kind == "array":
            return _array(self._build(schema["items"], namespace))
        if kind == "map":
            return _map(self._build(schema["values"], namespace))
        if kind in ("record", "error"):
            return self._record(schema, namespace)
        raise ValueError(f"unknown Avro type {kind!r}")

    @staticmethod
    def _full_name(schema: Mapping[str, Any], namespace: str) -> tuple[str, str]:
        """A named type's full name and the namespace its own fields resolve names in."""
        name = str(schema["name"])
        if "." not in name:
            space = schema.get("namespace", namespace)
            name = f"{space}.{name}" if space else name
        return name, name.rpartition(".")[0]

    def _reference(self, name: str, namespace: str) -> _Check:
        full = name if "." in name or not namespace else f"{namespace}.{name}"
        if full not in self._named and name in self._named:
            full = name  # a name defined in the null namespace
        self._referenced.add(full)
        named = self._named

        # Looked up when used, so a record may refer to itself.
        def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
            named[full](value, path, problems)

        return check

    def _record(self, schema: Mapping[str, Any], namespace: str) -> _Check:
        full, inner = self._full_name(schema, namespace)
        fields: list[tuple[str, _Check, bool]] = []
        known: set[str] = set()
        # Defined before its fields are built, so a field may refer to the record itself.
        self._named[full] = check = _record(full, fields, known)
        for field in schema["fields"]:
            fields.append((field["name"], self._build(field["type"], inner), "default" in field))
            known.add(field["name"])
        return check

    def _union(self, branches: list[Any], namespace: str) -> _Check:
        nullable = any(_type_name(b) == "null" for b in branches)
        others = [self._build(b, namespace) for b in branches if _type_name(b) != "null"]
        names = ", ".join(_type_name(b) for b in branches)
        if len(others) == 1:
            (only,) = others

            def check_optional(value: Any, path: str, problems: list[FieldProblem]) -> None:
                if value is None and nullable:
                    return
                only(value, path, problems)

            return check_optional

        def check_any(value: Any, path: str, problems: list[FieldProblem]) -> None:
            if value is None and nullable:
                return
            for branch in others:
                scratch = _Problems(1)  # the first problem rules the branch out
                try:
                    branch(value, path, scratch)
                except _Full as full:
                    if full.problems is not scratch:
                        raise
                    continue
                return
            problems.append(
                FieldProblem(path, f"expected one of the types {names}; got {_got(value)}")
            )

        return check_any


def _record(name: str, fields: list[tuple[str, _Check, bool]], known: set[str]) -> _Check:
    """The check of a record: ``fields`` lists (name, check, has a default), ``known`` their
    names; both are filled in by the caller."""

    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        if value.__class__ is not dict:
            problems.append(FieldProblem(path, f"expected an object, got {_got(value)}"))
            return
        for field, check_field, has_default in fields:
            if field in value:
                check_field(value[field], _join(path, field), problems)
            elif not has_default:
                problems.append(FieldProblem(_join(path, field), "is required"))
        if not value.keys() <= known:
            for key in value:
                if key not in known:
                    detail = f"unknown field: {name} has no field {key!r}"
                    problems.append(FieldProblem(_join(path, key), detail))

    return check


def _enum(symbols: list[str]) -> _Check:
    allowed = frozenset(symbols)
    shown = ", ".join(symbols[:_SHOWN_SYMBOLS]) + (", ..." if len(symbols) > _SHOWN_SYMBOLS else "")

    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        if value.__class__ is not str:
            problems.append(FieldProblem(path, f"expected one of {shown}; got {_got(value)}"))
        elif value not in allowed:
            problems.append(FieldProblem(path, f"{value!r} is not one of {shown}"))

    return check


def _array(items: _Check) -> _Check:
    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        if value.__class__ is not list:
            problems.append(FieldProblem(path, f"expected an array, got {_got(value)}"))
            return
        for index, item in enumerate(value):
            items(item, f"{path}[{index}]", problems)

    return check


def _map(values: _Check) -> _Check:
    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        if value.__class__ is not dict:
            problems.append(FieldProblem(path, f"expected an object, got {_got(value)}"))
            return
        for key, item in value.items():  # JSON object keys are always strings
            values(item, _join(path, key), problems)

    return check
