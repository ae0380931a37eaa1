"""Reading a campaign's leads from an uploaded CSV file, row by row, as a stream. Pure.

The first row names the columns (any case; spaces, dashes and underscores ignored; unknown columns are ignored):
``phone`` (required; also "phone number", "mobile", "cell"), ``first name``, ``last name``, ``email``, ``street``
("address"), ``city``, ``state``, ``zip`` ("postal code"). Rows are numbered as a spreadsheet shows them: the
header is row 1. Every row is checked (phone normalised to E.164, duplicates named with the row they repeat, email,
state and ZIP shapes); any error rejects the whole file, reporting each error with its row, so nothing is imported
by halves.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import IO

from email_validator import EmailNotValidError, validate_email

from seiketsu.phones import InvalidPhoneNumber, normalize_phone

MAX_ROWS = 50_000
MAX_REPORTED_ERRORS = 100

_COLUMNS = {
    "phone": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "mobilephone": "phone",
    "cell": "phone",
    "cellphone": "phone",
    "firstname": "first_name",
    "first": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "email": "email",
    "emailaddress": "email",
    "street": "street",
    "address": "street",
    "streetaddress": "street",
    "city": "city",
    "state": "state",
    "zip": "postal_code",
    "zipcode": "postal_code",
    "postalcode": "postal_code",
}
_STATE = re.compile(r"^[A-Z]{2}$")
_POSTAL = re.compile(r"^\d{5}(-\d{4})?$")
_LIMITS = {"first_name": 100, "last_name": 100, "street": 200, "city": 100}


@dataclass(frozen=True, slots=True)
class CsvLead:
    row: int
    phone: str
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str


class CsvRejected(ValueError):
    """The file has errors; ``errors`` lists the first ``MAX_REPORTED_ERRORS`` of ``total`` in row order."""

    def __init__(self, errors: list[RowError], *, total: int) -> None:
        super().__init__(f"{total} error(s) in the file; nothing was imported")
        self.errors = errors
        self.total = total


def parse_leads_csv(source: IO[bytes], *, max_rows: int = MAX_ROWS) -> list[CsvLead]:
    """Every lead of the file, read line by line, or CsvRejected naming every problem (the first
    ``MAX_REPORTED_ERRORS`` of them, and how many there are)."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    errors: list[RowError] = []
    total = 0
    try:
        header = next(reader, None)
        if header is None:
            raise CsvRejected([RowError(1, "file", "the file is empty")], total=1)
        columns = [_COLUMNS.get(re.sub(r"[\s_-]", "", name.lower())) for name in header]
        if "phone" not in columns:
            raise CsvRejected([RowError(1, "phone", "no phone column in the header row")], total=1)
        leads: list[CsvLead] = []
        first_row_of: dict[str, int] = {}
        for row_number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(leads) + total >= max_rows:
                message = f"more than {max_rows:,} rows, the limit of a file"
                raise CsvRejected([RowError(row_number, "file", message)], total=1)
            values = {column: cell.strip() for column, cell in zip(columns, cells, strict=False) if column is not None}
            lead, problems = _row(row_number, values, first_row_of)
            total += len(problems)
            errors.extend(problems[: MAX_REPORTED_ERRORS - len(errors)])
            if lead is not None:
                leads.append(lead)
    except csv.Error as exc:
        total += 1
        errors.append(RowError(reader.line_num, "file", f"malformed CSV: {exc}"))
    except UnicodeDecodeError as exc:
        raise CsvRejected([RowError(reader.line_num + 1, "file", "not UTF-8 text")], total=1) from exc
    finally:
        text.detach()  # the caller's file stays open
    if errors:
        raise CsvRejected(errors[:MAX_REPORTED_ERRORS], total=total)
    if not leads:
        raise CsvRejected([RowError(2, "file", "no rows after the header")], total=1)
    return leads


def _row(row: int, values: dict[str, str], first_row_of: dict[str, int]) -> tuple[CsvLead | None, list[RowError]]:
    problems: list[RowError] = []
    raw_phone = values.get("phone", "")
    phone = ""
    if not raw_phone:
        problems.append(RowError(row, "phone", "required"))
    else:
        try:
            phone = normalize_phone(raw_phone)
        except InvalidPhoneNumber:
            problems.append(RowError(row, "phone", f"not a valid phone number: {raw_phone[:40]!r}"))
    if phone:
        if phone in first_row_of:
            problems.append(RowError(row, "phone", f"duplicate of row {first_row_of[phone]} ({phone})"))
        else:
            first_row_of[phone] = row
    email = values.get("email") or None
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            problems.append(RowError(row, "email", f"not a valid email address: {email[:80]!r}"))
    state = (values.get("state") or "").upper() or None
    if state and not _STATE.match(state):
        problems.append(RowError(row, "state", "expected a two-letter state code"))
    postal = values.get("postal_code") or None
    if postal and not _POSTAL.match(postal):
        problems.append(RowError(row, "zip", "expected a 5-digit ZIP code (or ZIP+4)"))
    for column, limit in _LIMITS.items():
        if len(values.get(column, "")) > limit:
            problems.append(RowError(row, column, f"longer than {limit} characters"))
    if problems:
        return None, problems
    return (
        CsvLead(
            row=row,
            phone=phone,
            first_name=values.get("first_name", ""),
            last_name=values.get("last_name", ""),
            email=email,
            street=values.get("street") or None,
            city=values.get("city") or None,
            state=state,
            postal_code=postal,
        ),
        [],
    )
