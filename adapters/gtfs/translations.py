"""translations.txt in both layouts, as one lookup.

The GTFS layout says which table, field and record a translation is for
(``table_name,field_name,language,translation,record_id,record_sub_id,field_value``); the
older GTFS-JP layout, which real Japanese feeds still publish, only pairs a text with its
translations (``trans_id,lang,translation``: every field whose value is ``trans_id`` gets
them). Kana readings come as language ``ja-Hrkt``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Translations"]

LocalizedText = dict[str, str]
K = TypeVar("K", bound=Hashable)


@dataclass
class Translations:
    """Translations of cell values, looked up by table, field, record and value."""

    by_record: dict[tuple[str, str, str, str], list[LocalizedText]] = field(default_factory=dict)
    by_value: dict[tuple[str, str, str], list[LocalizedText]] = field(default_factory=dict)
    by_text: dict[str, list[LocalizedText]] = field(default_factory=dict)  # old GTFS-JP layout

    @property
    def layout(self) -> str:
        return "gtfs-jp-legacy" if self.by_text else "gtfs"

    @classmethod
    def from_rows(cls, header: list[str], rows: Iterable[list[str]]) -> Translations:
        """Build from the table; the header says which layout it is."""
        out = cls()
        col = {name: i for i, name in enumerate(header)}

        def cell(row: list[str], name: str) -> str:
            i = col.get(name)
            return row[i] if i is not None and i < len(row) else ""

        legacy = "trans_id" in col
        for row in rows:
            if legacy:
                text = cell(row, "translation")
                _add(out.by_text, cell(row, "trans_id"), cell(row, "lang"), text)
                continue
            table, name = cell(row, "table_name"), cell(row, "field_name")
            language, text = cell(row, "language"), cell(row, "translation")
            record = cell(row, "record_id")
            if record:
                sub = cell(row, "record_sub_id")
                _add(out.by_record, (table, name, record, sub), language, text)
            else:
                _add(out.by_value, (table, name, cell(row, "field_value")), language, text)
        return out

    def lookup(
        self, table: str, field_name: str, value: str | None, record: str = "", sub: str = ""
    ) -> list[LocalizedText]:
        """Every translation of ``value`` in ``table.field_name`` of ``record``."""
        if not value:
            return []
        if self.by_text:
            return self.by_text.get(value, [])
        found = self.by_record.get((table, field_name, record, sub))
        if found is None:
            found = self.by_value.get((table, field_name, value), [])
        return found


def _add(index: dict[K, list[LocalizedText]], key: K, language: str, text: str) -> None:
    if not text or not language:
        return
    entries = index.setdefault(key, [])
    if all(e["language"] != language for e in entries):
        entries.append({"text": text, "language": language})
