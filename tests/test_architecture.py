"""The layers of the code (docs/architecture.md), checked over its import statements.

Every import counts: at the top of a module, inside a function, and under ``TYPE_CHECKING``
(a type named is a dependency too). The contracts:

- ``adapters`` imports nothing from ``hub``: an adapter is parsing, and knows no Kafka.
- The parts ``hub.ingest``, ``hub.bridge`` and ``hub.gateway`` do not import each other, so
  each can run, change and be replaced alone; what two of them share lives below them.
- Only the entry points import the parts, and nothing but the entry points imports the entry
  points (``hub.cli``, the console script, and ``hub.up``, which starts the parts) or the
  commands they run (``hub.apply``): what a command and a part share lives below both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCANNED = ("hub", "adapters", "bench")
PARTS = ("hub.ingest", "hub.bridge", "hub.gateway")
ENTRY_POINTS = ("hub.cli", "hub.up")
COMMANDS = ("hub.apply",)

# Crossings of the target layering that the code still has, each (importer, imported
# module); every one is listed exactly, so a new crossing fails however near it is to these,
# and one that has gone fails too until its line is deleted here.
KNOWN_CROSSINGS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    """One imported module (or name of a module) at one line of one module."""

    importer: str
    imported: str
    where: str


@dataclass(frozen=True)
class Crossing:
    """An import that a contract forbids."""

    found: Import
    contract: str

    def __str__(self) -> str:
        return (
            f"{self.found.where}: {self.found.importer} imports {self.found.imported} "
            f"({self.contract})"
        )


def _within(module: str, packages: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_of(path: Path) -> Iterator[Import]:
    importer = _module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # ``from hub import up`` imports the module hub.up: judge each name as a module
            # too (a class name under a module is judged by that module's prefix anyway).
            for alias in node.names:
                yield Import(importer, f"{module}.{alias.name}", where)


def all_imports() -> list[Import]:
    """Every import of the project's own code, not of its tests."""
    return [
        found
        for top in SCANNED
        for path in sorted((REPO / top).rglob("*.py"))
        for found in _imports_of(path)
    ]


def crossings(imports: Iterable[Import]) -> list[Crossing]:
    """Every import that breaks a contract of the layering."""
    found: list[Crossing] = []
    for each in imports:
        if _within(each.importer, ["adapters"]) and _within(each.imported, ["hub"]):
            found.append(Crossing(each, "adapters import nothing from hub"))
        part = next((p for p in PARTS if _within(each.importer, [p])), None)
        others = [p for p in PARTS if p != part]
        if part is not None and _within(each.imported, others):
            found.append(Crossing(each, "ingest, bridge and gateway do not import each other"))
        elif not _within(each.importer, [*PARTS, *ENTRY_POINTS]) and _within(each.imported, PARTS):
            found.append(Crossing(each, "only the entry points import the parts"))
        if not _within(each.importer, ENTRY_POINTS) and _within(each.imported, ENTRY_POINTS):
            found.append(Crossing(each, "only the entry points import hub.up and hub.cli"))
        if not _within(each.importer, [*ENTRY_POINTS, *COMMANDS]) and _within(
            each.imported, COMMANDS
        ):
            found.append(Crossing(each, "only the entry points import the commands (hub.apply)"))
    return found


def _pair(crossing: Crossing) -> tuple[str, str]:
    """(importer, imported module): the imported name cut to the module it names."""
    imported = crossing.found.imported
    while imported and not _is_module(imported):
        imported = imported.rpartition(".")[0]
    return crossing.found.importer, imported


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_the_code_keeps_its_layers() -> None:
    unknown = [str(c) for c in crossings(all_imports()) if _pair(c) not in KNOWN_CROSSINGS]
    assert not unknown, "imports across the layers (docs/architecture.md):\n" + "\n".join(unknown)


def test_every_known_crossing_is_still_there() -> None:
    """A crossing removed from the code is removed from KNOWN_CROSSINGS too, so the list
    shrinks to nothing and cannot hide a new crossing of the same pair later."""
    present = {_pair(c) for c in crossings(all_imports())}
    gone = sorted(KNOWN_CROSSINGS - present)
    assert not gone, f"no longer crossed, delete from KNOWN_CROSSINGS: {gone}"


def test_the_scan_sees_the_code() -> None:
    # A scan that found nothing would pass every contract.
    imports = all_imports()
    assert any(i.importer == "hub.cli" and _within(i.imported, ["hub.up"]) for i in imports)
    assert any(_within(i.importer, ["adapters.gtfs"]) for i in imports)


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        ("adapters.gbfs.adapter", "hub.errors.ConfigError", "adapters import nothing from hub"),
        (
            "hub.bridge.runner",
            "hub.gateway.problems.problem",
            "ingest, bridge and gateway do not import each other",
        ),
        ("hub.kafka.backend", "hub.ingest.state", "only the entry points import the parts"),
        (
            "hub.registry.app",
            "hub.up.HubContext",
            "only the entry points import hub.up and hub.cli",
        ),
        ("hub.gateway.app", "hub.cli.main", "only the entry points import hub.up and hub.cli"),
        (
            "hub.schemas.check",
            "hub.apply.value_subject",
            "only the entry points import the commands (hub.apply)",
        ),
    ],
)
def test_each_contract_catches_a_crossing(importer: str, imported: str, contract: str) -> None:
    assert [c.contract for c in crossings([Import(importer, imported, "x.py:1")])] == [contract]


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("hub.cli", "hub.up.run_up"),
        ("hub.up", "hub.apply.apply"),
        ("hub.cli", "hub.ingest.build.build_feed_runner"),
        ("hub.gateway.app", "hub.gateway.problems.problem"),
        ("hub.ingest.build", "adapters.base.Adapter"),
        ("hub.gateway.app", "hub.ingestion.y"),  # a name that only starts like a part's
        ("hub.upgrade", "hub.cliff"),  # ... or like an entry point's
    ],
)
def test_what_the_layers_allow(importer: str, imported: str) -> None:
    assert crossings([Import(importer, imported, "x.py:1")]) == []
