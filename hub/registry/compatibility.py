"""Schema compatibility levels and the check behind them, as Confluent's registry defines them.

The resolution rules are Apache Avro's own (`avro.compatibility`); this module picks which
schema reads which and turns the checker's findings into sentences that say what and where.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from enum import StrEnum

import avro.errors
import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
)

from hub.errors import SchemaError

__all__ = ["DEFAULT_LEVEL", "CompatibilityLevel", "check", "parse_schema"]


class CompatibilityLevel(StrEnum):
    """Which earlier schemas a new schema must stay compatible with, and in which direction."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        """True when every earlier schema counts, not only the latest."""
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        """True when the new schema must read data written with the earlier ones."""
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        """True when the earlier schemas must read data written with the new one."""
        return self.value.startswith(("FORWARD", "FULL"))


#: The project's default: consumers on any earlier schema stay readable forever.
DEFAULT_LEVEL = CompatibilityLevel.BACKWARD_TRANSITIVE


def parse_schema(text: str) -> avro.schema.Schema:
    """Parse Avro schema JSON text, raising SchemaError with the parser's reason."""
    try:
        with warnings.catch_warnings():
            # avro warns (rather than fails) on e.g. unknown logical types, which
            # Confluent accepts too; the schema is still usable as its base type.
            warnings.simplefilter("ignore")
            return avro.schema.parse(text)
    except (avro.errors.AvroException, ValueError, TypeError, AttributeError, KeyError) as exc:
        # ValueError covers malformed JSON; the others are what avro raises on odd shapes
        # (a number where a name belongs, a list where an object belongs).
        raise SchemaError(f"invalid Avro schema: {exc}") from exc


def check(
    level: CompatibilityLevel | str,
    new_schema: str,
    existing: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
) -> list[str]:
    """Return why `new_schema` breaks `level` against `existing` (oldest first); [] if it does not.

    BACKWARD: the new schema can read data written with the latest existing schema
    (transitive: with every one). FORWARD: the latest (transitive: every) existing schema
    can read data written with the new one. FULL: both. `labels` name the existing
    schemas in the reasons (e.g. "version 3"); by default they are numbered.
    Raises SchemaError if any schema does not parse.
    """
    level = CompatibilityLevel(level)
    if labels is not None and len(labels) != len(existing):
        raise ValueError("labels must name each existing schema")
    names = (
        list(labels)
        if labels is not None
        else [f"existing schema #{i + 1}" for i in range(len(existing))]
    )
    if level is CompatibilityLevel.NONE or not existing:
        return []
    new = parse_schema(new_schema)
    indices = range(len(existing)) if level.transitive else [len(existing) - 1]
    reasons: list[str] = []
    # Newest first: the most recent break is the one an author is most likely to fix.
    for index in reversed(indices):
        old = parse_schema(existing[index])
        if level.backward:
            reasons += _reasons(
                new, old, f"the new schema cannot read data written with {names[index]}"
            )
        if level.forward:
            reasons += _reasons(
                old, new, f"{names[index]} cannot read data written with the new schema"
            )
    return reasons


def _reasons(reader: avro.schema.Schema, writer: avro.schema.Schema, prefix: str) -> list[str]:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    return [f"{prefix}: {finding}" for finding in _findings(reader, result)]


_SIZE_MESSAGE = re.compile(r"^expected: \d+, found: \d+$")


def _kind_of_message(message: str) -> SchemaIncompatibilityType | None:
    if message.startswith("reader type:"):
        return SchemaIncompatibilityType.type_mismatch
    if message.startswith("reader union lacking"):
        return SchemaIncompatibilityType.missing_union_branch
    if _SIZE_MESSAGE.match(message):
        return SchemaIncompatibilityType.fixed_size_mismatch
    if message.startswith("expected:"):
        return SchemaIncompatibilityType.name_mismatch
    if message.startswith("{"):
        return SchemaIncompatibilityType.missing_enum_symbols
    # The checker's message for a missing default is the bare field name.
    return None


def _kind_of_location(
    location: str, kinds: set[SchemaIncompatibilityType]
) -> SchemaIncompatibilityType:
    last = location.rstrip("/").rsplit("/", 1)[-1]
    if last == "symbols":
        return SchemaIncompatibilityType.missing_enum_symbols
    if last == "name":
        return SchemaIncompatibilityType.name_mismatch
    if last == "size":
        return SchemaIncompatibilityType.fixed_size_mismatch
    if re.search(r"/fields/\d+$", location):
        return SchemaIncompatibilityType.reader_field_missing_default_value
    if SchemaIncompatibilityType.type_mismatch in kinds:
        return SchemaIncompatibilityType.type_mismatch
    return SchemaIncompatibilityType.missing_union_branch


def _findings(reader: avro.schema.Schema, result: SchemaCompatibilityResult) -> list[str]:
    """Pair the checker's locations with its messages.

    The checker keeps messages and locations as two unordered sets once several problems
    are merged, so each location is matched to the messages of the same kind of problem.
    """
    kinds = set(result.incompatibilities)
    by_kind: dict[SchemaIncompatibilityType | None, list[str]] = {}
    for message in sorted(result.messages):
        by_kind.setdefault(_kind_of_message(message), []).append(message)
    locations = set(result.locations)
    if len(locations) > 1:
        # Merging with a compatible result adds its placeholder root location "/".
        locations.discard("/")
    findings: list[str] = []
    used: set[SchemaIncompatibilityType | None] = {None}
    for location in sorted(locations):
        kind = _kind_of_location(location, kinds)
        where = f"{_describe(reader, location)} ({location})"
        if location == "/" and _lost_in_union(reader, by_kind.get(kind, [])):
            where = "a field whose writer type is a union (the checker does not say which)"
        if kind is SchemaIncompatibilityType.reader_field_missing_default_value:
            findings.append(f"{where} has no default value and the writer's schema lacks it")
            continue
        used.add(kind)
        detail = " | ".join(by_kind.get(kind, [])) or kind.value.replace("_", " ")
        label = _LABELS.get(kind, "")
        findings.append(f"at {where}: {label}{detail}")
    # A problem the checker located nowhere useful still gets reported by its message.
    findings += [
        f"{_LABELS.get(kind, '') if kind else ''}{message}"
        for kind, messages in by_kind.items()
        if kind not in used
        for message in messages
    ]
    return findings or ["incompatible"]


def _lost_in_union(reader: avro.schema.Schema, messages: list[str]) -> bool:
    # The checker restarts locations at "/" when it descends into a writer's union, so a
    # root-level type mismatch that does not mention the root's type happened deeper down.
    reader_types = {m.group(1) for m in map(_READER_TYPE.match, messages) if m}
    return bool(reader_types) and str(reader.type) not in reader_types


_READER_TYPE = re.compile(r"^reader type: (\w+)")

_LABELS = {
    SchemaIncompatibilityType.missing_enum_symbols: "reader's enum lacks writer's symbols ",
    SchemaIncompatibilityType.name_mismatch: "type names differ, ",
    SchemaIncompatibilityType.fixed_size_mismatch: "fixed sizes differ, ",
}


def _describe(schema: avro.schema.Schema, location: str) -> str:
    """Name the place a checker location points to in `schema`, e.g. "field 'stops[].id'"."""
    node: object = schema
    path = ""
    parts = [part for part in location.split("/") if part]
    i = 0
    while i < len(parts):
        part = parts[i]
        if part == "fields" and i + 1 < len(parts) and isinstance(node, avro.schema.RecordSchema):
            field = node.fields[int(parts[i + 1])]
            path = f"{path}.{field.name}" if path else field.name
            node = field
            i += 2
            continue
        if part == "type" and isinstance(node, avro.schema.Field):
            node = node.type
        elif part == "items" and isinstance(node, avro.schema.ArraySchema):
            node, path = node.items, f"{path}[]"
        elif part == "values" and isinstance(node, avro.schema.MapSchema):
            node, path = node.values, f"{path}{{}}"
        elif part.isdigit() and isinstance(node, avro.schema.UnionSchema):
            # The index is a branch of the writer's union, which the message names.
            break
        elif part in {"symbols", "name", "size"} and isinstance(node, avro.schema.NamedSchema):
            what = f"{part} of {node.type} {node.fullname}"
            return f"{what} in field '{path}'" if path else what
        i += 1
    if isinstance(node, avro.schema.Field) or path:
        return f"field '{path}'"
    return "the top-level schema"
