"""Column access for a table whose header is known only at run time.

Rows are padded to the header's width plus one empty cell; a column the header lacks
points at that cell. So reading a cell is one list index, with no branch, which matters
for the tens of millions of stop_times rows of a national feed.
"""

from __future__ import annotations

import difflib

from adapters.gtfs.spec import GtfsFile

__all__ = ["Columns"]


class Columns:
    """Where each column of ``spec`` is in a header (or the padding cell when absent)."""

    def __init__(self, header: list[str], spec: GtfsFile | None = None) -> None:
        self.header = header
        self.width = len(header)
        self.index = {name: i for i, name in enumerate(header)}
        self.spec = spec

    def __getitem__(self, name: str) -> int:
        return self.index.get(name, self.width)

    def has(self, name: str) -> bool:
        return name in self.index

    def pad(self, row: list[str]) -> list[str]:
        """The row, widened so that every column index (and the padding one) exists."""
        missing = self.width + 1 - len(row)
        if missing > 0:
            row.extend([""] * missing)
        return row

    def missing_required(self) -> list[str]:
        return [c for c in self.spec.required if c not in self.index] if self.spec else []

    def unknown(self) -> list[str]:
        """Header names the specification does not define, with a likely intended name."""
        if self.spec is None:
            return []
        out = []
        for name in self.header:
            if name and name not in self.spec.known:
                close = difflib.get_close_matches(name.lower(), self.spec.known, n=1, cutoff=0.75)
                out.append(f"{name} (did you mean {close[0]}?)" if close else name)
        return out
