"""Building GTFS zips for tests: from the real samples, with changes a test asks for."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
GTFS = DATA / "gtfs"
BROKEN = GTFS / "broken"
KUMAMOTO = DATA / "gtfs-jp" / "kumamoto_bus_partial"


def tables_of(path: Path) -> dict[str, bytes]:
    """The members of a zip (or the files of a directory) by name."""
    if path.is_dir():
        return {f.name: f.read_bytes() for f in sorted(path.iterdir())}
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_of(tables: Mapping[str, bytes], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = comment
        for name, data in tables.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def changed(
    path: Path,
    edits: Mapping[str, Callable[[str], str]],
    encoding: str = "utf-8",
    comment: bytes = b"",
) -> bytes:
    """The feed at ``path`` with ``edits`` (table -> text function) applied, zipped (with
    the archive ``comment``: same tables, other bytes)."""
    tables = tables_of(path)
    for name, edit in edits.items():
        tables[name] = edit(tables.get(name, b"").decode(encoding)).encode(encoding)
    return zip_of(tables, comment)
