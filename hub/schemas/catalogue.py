"""The schema catalogue: every Avro schema in schemas/avro/, parsed and indexed by full name.

Loading reports every broken file at once (bad JSON with its line and column, invalid Avro,
a full name defined twice), so one run of `tsunagu validate` shows all that needs fixing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import SchemaParseException, UnknownType

from hub.errors import Problem, SchemaCatalogueError

__all__ = ["SchemaCatalogue", "SchemaEntry", "default_schema_dir", "packaged_data_dir"]


def packaged_data_dir() -> Path:
    """The data directory shipped inside the wheel (hub/_data: schemas, the demo topics.yaml
    and its mappings), or, for an editable install, the source tree it was installed from."""
    package = Path(str(resources.files("hub")))
    packaged = package / "_data"
    if packaged.is_dir():
        return packaged
    # An editable install (the README's test command) does not build hub/_data: the files it
    # would hold sit at the top of the checkout under the same names.
    return package.parent


def default_schema_dir() -> Path:
    """./schemas/avro when it exists (a checkout), else the copy packaged in the wheel."""
    local = Path.cwd() / "schemas" / "avro"
    if local.is_dir():
        return local
    return packaged_data_dir() / "schemas" / "avro"


@dataclass(frozen=True)
class SchemaEntry:
    """One top-level schema of the catalogue.

    `text` is the schema re-serialised compactly with json.dumps(raw, separators=(",", ":"),
    ensure_ascii=False): key order as written, no insignificant whitespace, so the same
    file always yields the same text to register. `parsed` is fastavro's parsed form,
    usable directly with fastavro's readers and writers.
    """

    full_name: str
    path: Path
    text: str
    raw: dict[str, Any]
    parsed: dict[str, Any]

    @property
    def fields(self) -> list[dict[str, Any]]:
        """The record's fields as parsed (empty for enums and fixed types)."""
        fields = self.parsed.get("fields", [])
        return list(fields) if isinstance(fields, list) else []

    def field(self, name: str) -> dict[str, Any] | None:
        """The parsed field called `name`, or None."""
        return next((f for f in self.fields if f.get("name") == name), None)


class SchemaCatalogue:
    """The Avro schemas of a directory, indexed by full name (namespace.name)."""

    def __init__(self, entries: dict[str, SchemaEntry], directory: Path | None = None) -> None:
        self._entries = dict(sorted(entries.items()))
        self.directory = directory

    @classmethod
    def load(cls, directory: Path) -> SchemaCatalogue:
        """Read every *.avsc in `directory`; raise SchemaCatalogueError listing every problem."""
        catalogue, problems = cls.load_partial(directory)
        if problems:
            raise SchemaCatalogueError(problems)
        return catalogue

    @classmethod
    def load_partial(cls, directory: Path) -> tuple[SchemaCatalogue, list[Problem]]:
        """Like load, but return the schemas that did load together with the problems found."""
        if not directory.is_dir():
            problem = Problem(str(directory), None, "", "schema directory not found")
            return cls({}, directory), [problem]
        problems: list[Problem] = []
        candidates: list[tuple[Path, str, dict[str, Any]]] = []
        owners: dict[str, Path] = {}
        for path in sorted(directory.glob("*.avsc")):
            raw = _read_json(path, problems)
            if raw is None:
                continue
            full_name = _full_name(raw)
            if full_name is None:
                problems.append(
                    Problem(
                        str(path),
                        None,
                        "",
                        "the top level must be a named type (record, enum or fixed) with a name",
                    )
                )
                continue
            if full_name in owners:
                problems.append(
                    Problem(
                        str(path),
                        None,
                        "",
                        f"{full_name} is defined in both {owners[full_name].name} and {path.name}",
                    )
                )
                continue
            owners[full_name] = path
            candidates.append((path, full_name, raw))
        entries = _parse_all(candidates, problems)
        problems.sort(key=lambda p: p.file)
        return cls(entries, directory), problems

    def names(self) -> list[str]:
        """Every full name in the catalogue, sorted."""
        return list(self._entries)

    def get(self, full_name: str) -> SchemaEntry:
        """The entry for `full_name`; KeyError naming it when unknown."""
        try:
            return self._entries[full_name]
        except KeyError:
            raise KeyError(f"no schema named {full_name!r} in the catalogue") from None

    def __contains__(self, full_name: object) -> bool:
        return full_name in self._entries

    def __iter__(self) -> Iterator[SchemaEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


def _read_json(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), None, "", f"not UTF-8 text: {exc.reason}"))
        return None
    except OSError as exc:
        problems.append(Problem(str(path), None, "", f"cannot read: {exc.strerror}"))
        return None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at column {exc.colno}: {exc.msg}"
        problems.append(Problem(str(path), exc.lineno, "", message))
        return None
    if not isinstance(raw, dict):
        problems.append(
            Problem(
                str(path),
                1,
                "",
                "the top level must be a named type (record, enum or fixed), not a "
                + type(raw).__name__,
            )
        )
        return None
    return raw


def _full_name(raw: dict[str, Any]) -> str | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return None
    if "." in name:
        return name
    namespace = raw.get("namespace")
    return f"{namespace}.{name}" if isinstance(namespace, str) and namespace else name


def _parse_all(
    candidates: list[tuple[Path, str, dict[str, Any]]], problems: list[Problem]
) -> dict[str, SchemaEntry]:
    # A schema may use a named type defined in another file, so files are parsed in
    # rounds until no more succeed; only then is an unknown type really unknown.
    named: dict[str, Any] = {}
    entries: dict[str, SchemaEntry] = {}
    pending = list(candidates)
    unknown: dict[Path, str] = {}
    progress = True
    while pending and progress:
        progress = False
        still_pending = []
        for path, full_name, raw in pending:
            trial = dict(named)
            try:
                parsed = parse_schema(raw, named_schemas=trial)
            except UnknownType as exc:
                unknown[path] = str(exc)
                still_pending.append((path, full_name, raw))
                continue
            except (SchemaParseException, ValueError, TypeError, KeyError, AttributeError) as exc:
                # fastavro raises plain built-ins on odd shapes (a list where an object belongs).
                problems.append(Problem(str(path), None, "", f"invalid Avro schema: {exc}"))
                continue
            if not isinstance(parsed, dict):  # a named type parses to a mapping; be sure
                problems.append(Problem(str(path), None, "", "invalid Avro schema: not a type"))
                continue
            named = trial
            text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
            entries[full_name] = SchemaEntry(full_name, path, text, raw, parsed)
            progress = True
        pending = still_pending
    for path, _, _ in pending:
        problems.append(
            Problem(str(path), None, "", f"invalid Avro schema: unknown type {unknown[path]!r}")
        )
    return entries
