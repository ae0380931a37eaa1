"""Keyset pagination with opaque cursors: stable while rows are inserted, any mix of sort directions.

A cursor carries the sort it was made for and the sort values of the last row returned; the next page is
everything strictly after that row in the same order, with the primary key as the final tie-breaker.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from seiketsu.errors import FieldError, ValidationFailed
from seiketsu.schemas import Page

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SortField:
    """A sortable API field: its name on the wire and the column (never NULL) it sorts on."""

    name: str
    column: InstrumentedAttribute[Any]
    parse: Callable[[str], Any]


def _datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)


def datetime_field(name: str, column: Any) -> SortField:
    return SortField(name, column, _datetime)


def text_field(name: str, column: Any) -> SortField:
    return SortField(name, column, str)


@dataclass(frozen=True, slots=True)
class SortKey:
    field: SortField
    descending: bool


def parse_sort(raw: str | None, fields: Mapping[str, SortField], default: str) -> tuple[SortKey, ...]:
    """``-createdAt,lastName`` -> keys; unknown or repeated fields are a 422 naming ``query.sort``."""
    keys: list[SortKey] = []
    for part in (raw or default).split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("-+")
        if name not in fields:
            allowed = ", ".join(sorted(fields))
            raise ValidationFailed([FieldError("query.sort", f"cannot sort by {name!r}; allowed: {allowed}")])
        if any(key.field.name == name for key in keys):
            raise ValidationFailed([FieldError("query.sort", f"{name!r} appears twice")])
        keys.append(SortKey(fields[name], descending))
    return tuple(keys)


def _signature(keys: Sequence[SortKey]) -> str:
    return ",".join(("-" if k.descending else "") + k.field.name for k in keys)


def _encode(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def encode_cursor(keys: Sequence[SortKey], values: Sequence[Any], last_id: uuid.UUID) -> str:
    document = {"s": _signature(keys), "v": [_encode(v) for v in values], "id": str(last_id)}
    return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[SortKey]) -> tuple[list[Any], uuid.UUID]:
    invalid = ValidationFailed([FieldError("query.cursor", "invalid cursor, or made for another sort")])
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if document["s"] != _signature(keys) or len(document["v"]) != len(keys):
            raise invalid
        values = [key.field.parse(raw) for key, raw in zip(keys, document["v"], strict=True)]
        return values, uuid.UUID(document["id"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise invalid from exc


def _after(keys: Sequence[SortKey], values: Sequence[Any], id_column: Any, last_id: uuid.UUID) -> Any:
    columns = [k.field.column for k in keys] + [id_column]
    directions = [k.descending for k in keys] + [False]
    bounds = [*values, last_id]
    clauses = []
    for i, (column, descending, bound) in enumerate(zip(columns, directions, bounds, strict=True)):
        equal_prefix = [columns[j] == bounds[j] for j in range(i)]
        beyond = column < bound if descending else column > bound
        clauses.append(sa.and_(*equal_prefix, beyond))
    return sa.or_(*clauses)


def page_by(
    session: Session, query: sa.Select[T], field: SortField, id_column: Any, limit: int, cursor: str | None
) -> Page[T]:
    """One page of ``query`` in ascending ``field`` order, for lists that offer no other sort."""
    keys = (SortKey(field, descending=False),)
    items, next_cursor = paginate(session, query, keys=keys, id_column=id_column, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


def paginate(
    session: Session,
    query: sa.Select[T],
    *,
    keys: Sequence[SortKey],
    id_column: Any,
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """One page of ``query`` in ``keys`` order, and the cursor of the next page (None on the last)."""
    if cursor:
        values, last_id = decode_cursor(cursor, keys)
        query = query.where(_after(keys, values, id_column, last_id))
    order = [k.field.column.desc() if k.descending else k.field.column.asc() for k in keys]
    rows = list(session.scalars(query.order_by(*order, id_column.asc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    next_values = [getattr(last, k.field.column.key) for k in keys]
    return rows, encode_cursor(keys, next_values, getattr(last, id_column.key))
