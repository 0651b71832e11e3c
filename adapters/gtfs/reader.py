"""Streaming the tables of a GTFS zip: limits against zip bombs, encodings, located errors.

Nothing here holds a whole table in memory: a member is read in 1 MiB chunks, checked
for NUL bytes and stray carriage returns on the raw bytes (cheap, C-speed ``bytes``
methods), decoded incrementally and split into lines for the ``csv`` module. Errors are
``MalformedFeedError`` located as ``file:line`` so a publisher can find them.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from adapters.base import MalformedFeedError

__all__ = ["Table", "UndecodableError", "ZipLimits", "member_names", "open_zip"]

_CHUNK = 1 << 20
_BARE_CR = re.compile(rb"\r(?!\n)")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class ZipLimits:
    """What a zip may claim before a byte of it is inflated (zip-bomb defence).

    ``zipfile`` never inflates more than a member's declared size, so checking the
    declared sizes up front bounds the work and the disk/memory a hostile archive costs.
    """

    max_total_bytes: int = 8 << 30  # national feeds: stop_times.txt of several GB
    max_ratio: float = 100.0  # CSV compresses 5-20x; bombs compress 1000x and more
    max_members: int = 500
    ratio_floor_bytes: int = 1 << 20  # tiny members may compress absurdly well


class UndecodableError(MalformedFeedError, ValueError):
    """A table is not valid in the encoding tried (the caller may try another)."""

    def __init__(self, name: str, line: int, encoding: str, reason: str) -> None:
        self.name, self.line, self.encoding = name, line, encoding
        super().__init__(f"not valid {encoding} ({reason})", f"{name}:{line}")


def open_zip(source: Path | IO[bytes], label: str, limits: ZipLimits) -> zipfile.ZipFile:
    """Open the feed archive and check its declared sizes against ``limits``."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MalformedFeedError(f"not a zip archive ({exc})", label) from exc
    members = [i for i in archive.infolist() if not i.is_dir()]
    if len(members) > limits.max_members:
        raise MalformedFeedError(
            f"{len(members)} files in the archive, more than the limit of {limits.max_members}",
            label,
        )
    total = sum(i.file_size for i in members)
    if total > limits.max_total_bytes:
        raise MalformedFeedError(
            f"archive inflates to {total:,} bytes, more than the limit of "
            f"{limits.max_total_bytes:,} (zip bomb?)",
            label,
        )
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise MalformedFeedError(
                f"{info.filename} inflates {ratio:,.0f} times ({info.compress_size:,} to "
                f"{info.file_size:,} bytes), more than the limit of {limits.max_ratio:,.0f} "
                "(zip bomb?)",
                label,
            )
    return archive


def member_names(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Table name -> member; feeds zipped with their folder are read as if they were not."""
    infos = [i for i in archive.infolist() if not i.is_dir() and i.filename.endswith(".txt")]
    at_root = {i.filename: i for i in infos if "/" not in i.filename}
    if at_root:
        return at_root
    return {PurePosixPath(i.filename).name: i for i in infos}


@dataclass
class Table:
    """One CSV member of the archive, read as rows of strings with their line numbers."""

    archive: zipfile.ZipFile
    info: zipfile.ZipInfo
    name: str
    encoding: str = "utf-8"
    header: list[str] | None = None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, cells) for every non-blank row after the header; the header is
        available as ``self.header`` once the first row has been asked for."""
        with self.archive.open(self.info) as raw:
            # strict: an unterminated quote is an error, not the rest of the file in one cell
            reader = csv.reader(self._lines(raw), strict=True)
            started = 1  # the line the record being read starts on
            try:
                header = next(reader, None)
                if header is None:
                    raise MalformedFeedError("the file is empty (no header row)", f"{self.name}:1")
                self.header = [h.strip() for h in header]
                started = reader.line_num + 1
                for cells in reader:
                    if cells:
                        yield started, cells
                    started = reader.line_num + 1
            except csv.Error as exc:
                message = str(exc)
                if "unexpected end of data" in message:
                    message = "quoted field is never closed (unterminated quote)"
                raise MalformedFeedError(message, f"{self.name}:{started}") from exc

    def _lines(self, raw: IO[bytes]) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)("strict")
        pending = ""
        line = 1  # the line ``pending`` starts on
        separator: str | None = None
        first = True
        while True:
            chunk = raw.read(_CHUNK)
            if chunk.endswith(b"\r"):
                chunk += raw.read(1)  # never split a CR LF pair between chunks
            if first:
                first = False
                if chunk.startswith(_UTF16_BOMS):
                    raise MalformedFeedError(
                        "the file is UTF-16: GTFS tables must be UTF-8", f"{self.name}:1"
                    )
                if chunk.startswith(codecs.BOM_UTF8):
                    chunk = chunk[3:]  # tolerated: many spreadsheet exports add one
            self._check_bytes(chunk, line, pending)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = line + pending.count("\n") + chunk[: exc.start].count(b"\n")
                raise UndecodableError(self.name, at, self.encoding, exc.reason) from exc
            if separator is None and text:
                # Old Mac files end lines with CR alone; everything else has LF.
                separator = "\n" if "\n" in text or "\r" not in text else "\r"
            if not chunk:
                if pending:
                    yield pending
                return
            # Of the chunk only its lines are kept, and they are let go before the next read:
            # a chunk of short rows makes several times its size in line strings.
            del chunk
            parts = (pending + text).split(separator or "\n")
            del text
            pending = parts.pop()
            line += len(parts)
            for part in parts:
                yield part + "\n"
            del parts

    def _check_bytes(self, chunk: bytes, line: int, pending: str) -> None:
        nul = chunk.find(b"\x00")
        if nul >= 0:
            at = line + pending.count("\n") + chunk[:nul].count(b"\n")
            raise MalformedFeedError("NUL byte in the file", f"{self.name}:{at}")
        if b"\n" in chunk:
            stray = _BARE_CR.search(chunk)
            if stray is not None:
                at = line + pending.count("\n") + chunk[: stray.start()].count(b"\n")
                raise MalformedFeedError(
                    "carriage return without line feed (mixed line endings)",
                    f"{self.name}:{at}",
                )
