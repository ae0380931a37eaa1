"""The one statement that reads everything the gate needs about a batch of numbers.

One SELECT returns, as JSON arrays, the organization's leads with those numbers (or ids), their consent-ledger
events, their Do-Not-Call requests and withdrawals, the gate's earlier permits for them, and, for each registry
list the organization holds, the copy dates of their area codes and the numbers listed. One round trip whatever
the batch size, and no ORM: every part filters on the organization explicitly (the registry numbers through the
organization's lists), because the statement runs outside the session's tenancy scoping.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from compliance.consent import ConsentEvent
from compliance.internal_dnc import InternalDncStatus, status_of
from compliance.ledger import RevocationMethod, ledger_event
from seiketsu.db import UTCDateTime

_TEXT_OPT_OUTS = (RevocationMethod.SMS_KEYWORD.value, RevocationMethod.FREE_TEXT.value)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    id: uuid.UUID
    phone: str
    state: str | None
    postal_code: str | None
    last_inquiry_at: datetime | None
    last_transaction_at: datetime | None


@dataclass
class Found:
    """What the database says about a batch of numbers."""

    leads_by_id: dict[uuid.UUID, LeadFacts] = field(default_factory=dict)
    leads_by_phone: dict[str, LeadFacts] = field(default_factory=dict)
    events: dict[str, list[ConsentEvent]] = field(default_factory=dict)
    statuses: dict[str, InternalDncStatus] = field(default_factory=dict)
    copies: dict[tuple[str, str], date] = field(default_factory=dict)
    """(list name, area code) -> date of the copy held."""
    listed: set[tuple[str, int]] = field(default_factory=set)
    """(list name, ten-digit number) of every number a held copy lists (whether, never since when: the gate
    infers nothing from the date a number first appeared in an import)."""
    attempts: dict[str, list[datetime]] = field(default_factory=dict)
    """Moments of the gate's earlier permits."""
    confirmations: dict[str, list[datetime]] = field(default_factory=dict)
    """Moments of the gate's earlier opt-out confirmation permits."""
    text_opt_outs: dict[str, list[datetime]] = field(default_factory=dict)


def _sql(postgres: bool) -> str:
    def agg(*columns: str) -> str:
        listed = ", ".join(columns)
        return f"json_agg(json_build_array({listed}))" if postgres else f"json_group_array(json_array({listed}))"

    def one_of(column: str, name: str, sql_type: str) -> str:
        if postgres:  # the values come as one comma-separated text (see ``_listed``)
            return f"{column} = ANY(CAST(string_to_array(:{name}, ',') AS {sql_type}[]))"
        return f"{column} IN :{name}"

    def js(column: str) -> str:
        return column if postgres else f"json({column})"

    def by_phone(table: str, condition: str = "") -> str:
        # One scan of the organization's rows at worst (a per-number lateral probe is faster with fresh
        # statistics, but quadratic when stale ones make the planner probe the organization index per number).
        return f"{table} AS t WHERE t.organization_id = :org AND {one_of('t.phone', 'phones', 'text')}{condition}"

    permits = " AND t.permit_expires_at IS NOT NULL AND t.at > :since AND t.at < :until"
    lists = "SELECT l.id, l.name FROM dnc_registry_lists AS l WHERE l.organization_id = :org"
    if postgres:
        listed = (
            f"({lists}) AS l CROSS JOIN LATERAL (SELECT n.number FROM dnc_registry_numbers AS n"
            f" WHERE n.list_id = l.id AND {one_of('n.number', 'numbers', 'bigint')} OFFSET 0) AS n"
        )
    else:
        listed = f"({lists}) AS l JOIN dnc_registry_numbers AS n ON n.list_id = l.id WHERE n.number IN :numbers"
    return f"""
SELECT
  (SELECT {agg("t.id", "t.phone", "t.state", "t.postal_code", "t.last_inquiry_at", "t.last_transaction_at")}
     FROM leads AS t
    WHERE t.organization_id = :org AND ({one_of("t.id", "lead_ids", "uuid")} OR {one_of("t.phone", "phones", "text")})),
  (SELECT {
        agg("t.phone", "t.id", "t.action", "t.kind", js("t.channels"), js("t.purposes"), "t.occurred_at", "t.method")
    }
     FROM {by_phone("consent_events")}),
  (SELECT {agg("t.phone", "t.requested_at", "t.source")} FROM {by_phone("dnc_internal")}),
  (SELECT {agg("t.phone", "t.withdrawn_at")}
     FROM {by_phone("dnc_internal_withdrawals", " AND t.withdrawn_at <= :earliest")}),
  (SELECT {agg("t.phone", "t.at", "t.opt_out_confirmation")}
     FROM {by_phone("compliance_decisions", permits)}),
  (SELECT {agg("l.name", "a.area_code", "a.as_of")}
     FROM ({lists}) AS l JOIN dnc_registry_areas AS a ON a.list_id = l.id
    WHERE {one_of("a.area_code", "area_codes", "text")}),
  (SELECT {agg("l.name", "n.number")} FROM {listed})
"""


class FactQuery:
    """The statement, prepared once per dialect; ``read`` runs it."""

    def __init__(self) -> None:
        self._statements: dict[str, sa.TextClause] = {}

    def _statement(self, dialect: str) -> sa.TextClause:
        statement = self._statements.get(dialect)
        if statement is None:
            postgres = dialect == "postgresql"
            params: list[sa.BindParameter[Any]] = [
                sa.bindparam("org", type_=sa.Uuid()),
                sa.bindparam("earliest", type_=UTCDateTime()),
                sa.bindparam("since", type_=UTCDateTime()),
                sa.bindparam("until", type_=UTCDateTime()),
            ]
            if postgres:
                params += [sa.bindparam(name, type_=sa.Text()) for name in _LISTS]
            else:
                params += [sa.bindparam(name, expanding=True) for name in ("phones", "area_codes", "numbers")]
                params.append(sa.bindparam("lead_ids", type_=sa.Uuid(), expanding=True))
            statement = sa.text(_sql(postgres)).bindparams(*params)
            self._statements[dialect] = statement
        return statement

    def read(
        self,
        conn: Connection,
        organization_id: uuid.UUID,
        *,
        phones: Sequence[str],
        lead_ids: Sequence[uuid.UUID],
        area_codes: Sequence[str],
        numbers: Sequence[int],
        earliest: datetime,
        since: datetime,
        until: datetime,
    ) -> Found:
        lists: dict[str, Sequence[object]] = {
            "phones": phones, "lead_ids": lead_ids, "area_codes": area_codes, "numbers": numbers
        }  # fmt: skip
        postgres = conn.dialect.name == "postgresql"
        values = {name: _listed(items) if postgres else list(items) for name, items in lists.items()}
        with _planned_per_execution(conn):
            row = conn.execute(
                self._statement(conn.dialect.name),
                {"org": organization_id, "earliest": earliest, "since": since, "until": until, **values},
            ).one()
        return _parse([_rows(value) for value in row])


_LISTS = ("phones", "lead_ids", "area_codes", "numbers")


def _listed(values: Sequence[object]) -> str:
    """Values as one comma-separated text, which PostgreSQL splits (``string_to_array``): a few microseconds for
    thousands of numbers, where psycopg takes milliseconds to send a list as an array. The values are E.164
    numbers, digits and UUIDs; anything with a comma is refused."""
    text = ",".join(map(str, values))
    if text.count(",") != max(len(values) - 1, 0):
        raise ValueError("a listed value contains a comma")
    return text


@contextmanager
def _planned_per_execution(conn: Connection) -> Iterator[None]:
    """Run the statement unprepared on psycopg, so that PostgreSQL plans it for the arrays it is given.

    psycopg prepares a statement after five executions on a connection, and PostgreSQL then moves a prepared
    statement to a generic plan, which cannot see how many numbers the arrays hold: once the single decisions had
    made it generic, a chunk of 2,000 numbers took 610 ms instead of 18 ms (one number: 0.6-0.7 ms either way).
    """
    driver = conn.connection.driver_connection if conn.dialect.name == "postgresql" else None
    threshold = getattr(driver, "prepare_threshold", None)
    if driver is None or threshold is None:
        yield
        return
    driver.prepare_threshold = None
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


def _rows(value: Any) -> list[list[Any]]:
    if value is None:
        return []
    return list(json.loads(value) if isinstance(value, str) else value)


def _parse(parts: list[list[list[Any]]]) -> Found:
    leads, consents, requests, withdrawals, permits, copies, listed = parts
    found = Found()
    for lead_id, phone, state, postal_code, inquiry, transaction in leads:
        lead = LeadFacts(_uuid(lead_id), phone, state, postal_code, _maybe(inquiry), _maybe(transaction))
        found.leads_by_id[lead.id] = lead
        found.leads_by_phone[phone] = lead
    for phone, event_id, action, kind, channels, purposes, occurred_at, method in consents:
        moment = _moment(occurred_at)
        event = ledger_event(
            event_id=str(event_id), action=action, kind=kind, channels=_json(channels), purposes=_json(purposes),
            occurred_at=moment,
        )  # fmt: skip
        found.events.setdefault(phone, []).append(event)
        if action == "revoke" and method in _TEXT_OPT_OUTS:
            found.text_opt_outs.setdefault(phone, []).append(moment)
    latest_withdrawal: dict[str, datetime] = {}
    for phone, withdrawn_at in withdrawals:
        moment = _moment(withdrawn_at)
        latest_withdrawal[phone] = max(moment, latest_withdrawal.get(phone, moment))
    by_phone: dict[str, list[tuple[datetime, str]]] = {}
    for phone, requested_at, source in requests:
        by_phone.setdefault(phone, []).append((_moment(requested_at), source))
    found.statuses = {phone: status_of(items, latest_withdrawal.get(phone)) for phone, items in by_phone.items()}
    for phone, at, confirmation in permits:
        moment = _moment(at)
        found.attempts.setdefault(phone, []).append(moment)
        if confirmation:
            found.confirmations.setdefault(phone, []).append(moment)
    for name, area_code, as_of in copies:
        found.copies[(name, area_code)] = date.fromisoformat(as_of)
    found.listed = {(name, int(number)) for name, number in listed}
    return found


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def _json(value: Any) -> list[str]:
    """A JSON column inside the JSON answer: already a list on PostgreSQL, maybe a string on SQLite."""
    loaded = json.loads(value) if isinstance(value, str) else value
    return [str(item) for item in loaded]


def _moment(value: str) -> datetime:
    """A timestamp from JSON: ISO 8601 from PostgreSQL, naive UTC text from SQLite."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _maybe(value: str | None) -> datetime | None:
    return _moment(value) if value is not None else None
