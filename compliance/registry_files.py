"""Streaming parser for Do-Not-Call registry files (National DNC Registry and state lists).

Formats accepted (the registry's current column layout is not published, so parsing is tolerant):

- Full list: one number per line, either 10 digits ("8505550134", also "850-555-0134", "(850) 555-0134",
  "+1 850 555 0134") or area code and number as two fields ("850,5550134").
- Change list: the same number fields plus an action field anywhere after them: A / ADD / ADDED / + for an
  addition, D / DEL / DELETE / DELETED / - for a deletion ("850,5550134,A", "8505550134,D"). Fields that are
  dates (2025-06-01, 06/01/2025, 20250601) are ignored. A full list may carry an add flag but never a delete.

The caller says which kind a file is (the registry hands out full and change lists as separate downloads).
Files may be zipped; every member of the archive is read in turn. Blank lines are skipped; every other line
that cannot be read is rejected with its line number and reason, and parsing goes on. XML downloads are refused.
Memory stays bounded: lines are read one at a time with a length limit, and at most ``max_kept_rejections``
rejected lines are kept (all are counted).
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, NamedTuple, cast

from compliance.errors import RegistryFileError
from compliance.phones import nanp_e164

MAX_LINE_BYTES = 256
_READ_BUFFER = 256 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")  # member, empty archive, spanned
_BOM = b"\xef\xbb\xbf"
_NUMBER_FIELD = re.compile(r"[0-9\s().+\-]*")
_NOT_DIGIT = re.compile(r"[^0-9]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|\d{8}")
_ADD = frozenset({"a", "add", "added", "+", "i", "insert"})
_DELETE = frozenset({"d", "del", "delete", "deleted", "-", "r", "remove", "removed"})


class ListKind(StrEnum):
    FULL = "full"
    CHANGES = "changes"


class ListAction(StrEnum):
    ADD = "add"
    DELETE = "delete"


class RegistryEntry(NamedTuple):
    """One accepted line: a number in E.164 form and what to do with it."""

    phone: str
    action: ListAction


@dataclass(frozen=True, slots=True)
class RejectedLine:
    source: str
    """The file, or "archive.zip:member.txt"."""
    line: int
    reason: str
    text: str
    """The line as read, cut to 80 characters."""


@dataclass(slots=True)
class ParseReport:
    """Counts of one parse, filled in while the entries are read."""

    accepted: int = 0
    additions: int = 0
    deletions: int = 0
    rejected: int = 0
    rejected_lines: list[RejectedLine] = field(default_factory=list)
    """The first ``max_kept_rejections`` rejected lines."""
    area_codes: set[str] = field(default_factory=set)
    """Area codes seen; a full list replaces exactly these area codes' numbers."""
    sources: list[str] = field(default_factory=list)


class RegistryFileReader:
    """The entries of one registry file, read lazily; ``report`` fills in as they are read.

    Iterate once (``for entry in RegistryFileReader(path, kind=ListKind.CHANGES)``), then read the counts and
    rejected lines from ``report``. Raises RegistryFileError when the file as a whole cannot be read.
    """

    def __init__(
        self,
        source: str | Path | IO[bytes],
        *,
        kind: ListKind,
        name: str | None = None,
        max_kept_rejections: int = 1000,
    ) -> None:
        self._source = source
        self._kind = kind
        self._name = name or (str(source) if isinstance(source, str | Path) else "upload")
        self._max_kept = max_kept_rejections
        self.report = ParseReport()

    def __iter__(self) -> Iterator[RegistryEntry]:
        if isinstance(self._source, str | Path):
            try:
                with open(self._source, "rb") as stream:
                    yield from self._read_any(stream)
            except OSError as exc:
                raise RegistryFileError(f"cannot read {self._name}: {exc}") from exc
        else:
            yield from self._read_any(self._source)

    def _read_any(self, stream: IO[bytes]) -> Iterator[RegistryEntry]:
        if not stream.seekable():
            with _spooled(stream) as spool:
                yield from self._read_any(spool)
            return
        start = stream.tell()
        head = stream.read(4)
        stream.seek(start)
        if head in _ZIP_MAGIC:
            yield from self._read_zip(stream)
        else:
            yield from self._read_lines(stream, self._name)

    def _read_zip(self, stream: IO[bytes]) -> Iterator[RegistryEntry]:
        try:
            archive = zipfile.ZipFile(stream)
        except zipfile.BadZipFile as exc:
            raise RegistryFileError(f"{self._name} is not a readable zip archive: {exc}") from exc
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if not members:
                raise RegistryFileError(f"{self._name} is an empty zip archive")
            for member in members:
                try:
                    # ZipExtFile.readline is pure Python; a BufferedReader over it reads lines ten times faster.
                    with archive.open(member) as inner:
                        lines = io.BufferedReader(cast(io.RawIOBase, inner), _READ_BUFFER)
                        yield from self._read_lines(lines, f"{self._name}:{member.filename}")
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
                    raise RegistryFileError(f"cannot read {self._name}:{member.filename}: {exc}") from exc

    def _read_lines(self, stream: IO[bytes], source: str) -> Iterator[RegistryEntry]:
        self.report.sources.append(source)
        full = self._kind is ListKind.FULL
        number = 0
        while True:
            raw = stream.readline(MAX_LINE_BYTES)
            if not raw:
                return
            number += 1
            if number == 1:
                raw = raw.removeprefix(_BOM)
                if raw.lstrip().startswith(b"<"):
                    raise RegistryFileError(f"{source} looks like XML; download the flat-file format")
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                self._reject(source, number, raw, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            line = raw.strip()
            if not line:
                continue
            # The common case, a bare ten-digit number in a full list, skips the general parser.
            if full and len(line) == 10 and line.isdigit():
                entry_or_reason = self._entry(line.decode("ascii"), ListAction.ADD)
            else:
                entry_or_reason = self._parse(line.decode("latin-1"))
            if isinstance(entry_or_reason, str):
                self._reject(source, number, raw, entry_or_reason)
            else:
                yield entry_or_reason

    def _parse(self, line: str) -> RegistryEntry | str:
        fields = [f.strip() for f in line.split(",")]
        first_digits = _NOT_DIGIT.sub("", fields[0])
        if len(fields) >= 2 and len(first_digits) == 3:
            number_fields, rest = fields[:2], fields[2:]
        else:
            number_fields, rest = fields[:1], fields[1:]
        if not fields[0]:
            return "empty number field"
        if not all(_NUMBER_FIELD.fullmatch(f) for f in number_fields):
            return "number field holds letters"
        digits = "".join(_NOT_DIGIT.sub("", f) for f in number_fields)
        if len(number_fields) == 2 and len(digits) != 10:
            return "area code and number do not make 10 digits"
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10:
            return f"expected 10 digits, found {len(digits)}"
        actions = []
        for item in rest:
            token = item.lower()
            if token in _ADD:
                actions.append(ListAction.ADD)
            elif token in _DELETE:
                actions.append(ListAction.DELETE)
            elif not token or _DATE.fullmatch(token):
                continue
            else:
                return f"unexpected field {item[:20]!r}"
        if len(actions) > 1:
            return "more than one action field"
        if self._kind is ListKind.CHANGES and not actions:
            return "change-list line without an add/delete flag"
        action = actions[0] if actions else ListAction.ADD
        if self._kind is ListKind.FULL and action is ListAction.DELETE:
            return "deletion in a full list"
        return self._entry(digits, action)

    def _entry(self, digits: str, action: ListAction) -> RegistryEntry | str:
        phone = nanp_e164(digits)
        if phone is None:
            return "not a valid NANP number"
        report = self.report
        report.accepted += 1
        if action is ListAction.ADD:
            report.additions += 1
        else:
            report.deletions += 1
        report.area_codes.add(digits[:3])
        return RegistryEntry(phone, action)

    def _reject(self, source: str, line: int, raw: bytes, reason: str) -> None:
        self.report.rejected += 1
        if len(self.report.rejected_lines) < self._max_kept:
            text = raw.decode("latin-1").rstrip("\r\n")[:80]
            self.report.rejected_lines.append(RejectedLine(source=source, line=line, reason=reason, text=text))


def _spooled(stream: IO[bytes]) -> IO[bytes]:
    """Zip archives need random access: a non-seekable stream is copied to a temporary file first."""
    spool = tempfile.TemporaryFile()
    while chunk := stream.read(1024 * 1024):
        spool.write(chunk)
    spool.seek(0)
    return spool
