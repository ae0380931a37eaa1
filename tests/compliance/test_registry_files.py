from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from compliance.errors import RegistryFileError
from compliance.registry_files import ListAction, ListKind, RegistryEntry, RegistryFileReader

ADD, DELETE = ListAction.ADD, ListAction.DELETE


def read(
    data: bytes, kind: ListKind = ListKind.FULL, **kwargs: object
) -> tuple[list[RegistryEntry], RegistryFileReader]:
    reader = RegistryFileReader(io.BytesIO(data), kind=kind, name="list.txt", **kwargs)  # type: ignore[arg-type]
    return list(reader), reader


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_full_list_in_both_layouts() -> None:
    entries, reader = read(b"8505550134\n850,5550135\r\n(850) 555-0136\n+1 850 555 0137\n18505550138\n")
    assert [e.phone for e in entries] == [f"+1850555013{i}" for i in range(4, 9)]
    assert {e.action for e in entries} == {ADD}
    assert reader.report.accepted == 5 and reader.report.rejected == 0
    assert reader.report.area_codes == {"850"}


def test_malformed_lines_are_rejected_with_line_numbers_and_parsing_goes_on() -> None:
    data = b"\xef\xbb\xbf8505550134\nAreaCode,Number\n0505550134\n\n85055501\n850,555013\n8505550135,D\n8505550139\n"
    entries, reader = read(data)
    assert [e.phone for e in entries] == ["+18505550134", "+18505550139"]
    report = reader.report
    assert report.rejected == 5
    assert [(r.line, r.reason) for r in report.rejected_lines] == [
        (2, "number field holds letters"),
        (3, "not a valid NANP number"),
        (5, "expected 10 digits, found 8"),
        (6, "area code and number do not make 10 digits"),
        (7, "deletion in a full list"),
    ]
    assert report.rejected_lines[0].text == "AreaCode,Number"
    assert report.rejected_lines[0].source == "list.txt"


def test_overlong_line_is_rejected_without_reading_it_whole() -> None:
    entries, reader = read(b"8505550134\n" + b"9" * 100_000 + b"\n8505550135\n")
    assert len(entries) == 2
    assert reader.report.rejected_lines[0].line == 2
    assert "longer than" in reader.report.rejected_lines[0].reason
    assert len(reader.report.rejected_lines[0].text) == 80


def test_only_the_first_rejections_are_kept_but_all_are_counted() -> None:
    _, reader = read(b"bad\n" * 50, max_kept_rejections=10)
    assert reader.report.rejected == 50
    assert len(reader.report.rejected_lines) == 10


def test_change_list_additions_and_deletions() -> None:
    data = b"850,5550134,A\n8505550135,D\n850,5550136,2025-06-01,DELETE\n850,5550137,add\n850,5550138,+\n"
    entries, reader = read(data, ListKind.CHANGES)
    assert entries == [
        RegistryEntry("+18505550134", ADD),
        RegistryEntry("+18505550135", DELETE),
        RegistryEntry("+18505550136", DELETE),
        RegistryEntry("+18505550137", ADD),
        RegistryEntry("+18505550138", ADD),
    ]
    assert (reader.report.additions, reader.report.deletions) == (3, 2)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"850,5550134", "change-list line without an add/delete flag"),
        (b"8505550134", "change-list line without an add/delete flag"),
        (b"850,5550134,A,D", "more than one action field"),
        (b"850,5550134,X", "unexpected field 'X'"),
        (b"850,555a134,A", "number field holds letters"),
        (b",5550134,A", "empty number field"),
    ],
)
def test_malformed_change_lines(line: bytes, reason: str) -> None:
    entries, reader = read(line + b"\n", ListKind.CHANGES)
    assert entries == []
    assert reader.report.rejected_lines[0].reason == reason


def test_zip_members_are_streamed_in_turn() -> None:
    data = zipped({"fl/850.txt": b"8505550134\n8505550135\n", "fl/": b"", "fl/305.txt": b"305,5550136\nbad\n"})
    entries, reader = read(data)
    assert [e.phone for e in entries] == ["+18505550134", "+18505550135", "+13055550136"]
    assert reader.report.sources == ["list.txt:fl/850.txt", "list.txt:fl/305.txt"]
    assert reader.report.rejected_lines[0].source == "list.txt:fl/305.txt"
    assert reader.report.rejected_lines[0].line == 2


def test_zipped_change_list_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "changes.zip"
    path.write_bytes(zipped({"changes.txt": b"850,5550134,A\n850,5550135,D\n"}))
    reader = RegistryFileReader(path, kind=ListKind.CHANGES)
    assert [e.action for e in reader] == [ADD, DELETE]


def test_non_seekable_upload_is_spooled() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    reader = RegistryFileReader(Pipe(zipped({"a.txt": b"8505550134\n"})), kind=ListKind.FULL)  # type: ignore[arg-type]
    assert [e.phone for e in reader] == ["+18505550134"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<?xml version="1.0"?><numbers/>', "XML"),
        (b'\xef\xbb\xbf<?xml version="1.0"?><numbers/>', "XML"),
        (b"PK\x03\x04 not really a zip", "zip"),
        (zipped({}), "empty zip"),
    ],
)
def test_unreadable_files_raise(data: bytes, message: str) -> None:
    with pytest.raises(RegistryFileError, match=message):
        read(data)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(RegistryFileError, match="cannot read"):
        list(RegistryFileReader(tmp_path / "nope.txt", kind=ListKind.FULL))


class CountingReader(io.BytesIO):
    """A seekable upload that counts the bytes read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_zipped_list_is_streamed_not_loaded() -> None:
    random = __import__("random").Random(7)
    lines = b"".join(
        b"%03d%07d\n" % (random.randint(200, 989), random.randint(2_000_000, 9_999_999)) for _ in range(400_000)
    )
    upload = CountingReader(zipped({"big.txt": lines}))
    entries = iter(RegistryFileReader(upload, kind=ListKind.FULL))
    for _ in range(100):
        next(entries)
    # 4.4 MB of text, about 2 MB zipped: the first entries need only the first compressed chunks.
    assert upload.bytes_read < len(upload.getvalue()) // 4
    remaining = sum(1 for _ in entries)
    assert remaining > 300_000
