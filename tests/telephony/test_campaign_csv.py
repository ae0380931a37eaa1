"""Reading a campaign's CSV: normalised phones, duplicates, per-row errors with row numbers. Pure."""

from __future__ import annotations

import io

import pytest

from telephony.campaigns.csv_import import CsvLead, CsvRejected, parse_leads_csv


def test_rows_are_read_with_normalised_phones_and_flexible_headers() -> None:
    data = (
        "\ufeffFirst Name,Last_Name,Phone Number,E-mail,ZIP,State,Notes\r\n"
        'Dana,Reyes,(212) 555-0142,dana@example.com,10001,ny,"likes lofts, near parks"\r\n'
        "\r\n"
        "Sam,,212.555.0143,,,,\r\n"
    ).encode()
    assert parse_leads_csv(io.BytesIO(data)) == [
        CsvLead(row=2, phone="+12125550142", first_name="Dana", last_name="Reyes", email="dana@example.com",
                state="NY", postal_code="10001"),
        CsvLead(row=4, phone="+12125550143", first_name="Sam"),
    ]  # fmt: skip


def test_every_bad_row_is_reported_with_its_row_number() -> None:
    data = (
        b"phone,first name,email,state,zip\n"
        b"212-555-0142,Dana,,,\n"
        b"not a number,Sam,,,\n"
        b"+1 212 555 0142,Dup,,,\n"
        b",Nobody,,,\n"
        b"212-555-0144,Lee,lee@,Texas,1234\n"
    )
    with pytest.raises(CsvRejected) as rejected:
        parse_leads_csv(io.BytesIO(data))
    found = [(e.row, e.column, e.message) for e in rejected.value.errors]
    assert found == [
        (3, "phone", "not a valid phone number: 'not a number'"),
        (4, "phone", "duplicate of row 2 (+12125550142)"),
        (5, "phone", "required"),
        (6, "email", "not a valid email address: 'lee@'"),
        (6, "state", "expected a two-letter state code"),
        (6, "zip", "expected a 5-digit ZIP code (or ZIP+4)"),
    ]
    assert rejected.value.total == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "the file is empty"), (b"name,email\nDana,d@example.com\n", "no phone column in the header row"),
     (b"phone\n", "no rows after the header"), (b"phone\n\xff\xfe\n", "not UTF-8 text")],
)  # fmt: skip
def test_files_without_leads_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(CsvRejected) as rejected:
        parse_leads_csv(io.BytesIO(data))
    assert rejected.value.errors[0].message == message


def test_too_many_rows_are_refused() -> None:
    data = ("phone\n" + "".join(f"212555{n:04d}\n" for n in range(11))).encode()
    with pytest.raises(CsvRejected) as rejected:
        parse_leads_csv(io.BytesIO(data), max_rows=10)
    assert rejected.value.errors[0].row == 12
