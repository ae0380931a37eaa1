"""The gate's audit log: who asked what, what the gate answered, and every rule's verdict.

Rows are built in memory and written in bulk (one statement for a whole batch: ``COPY`` on PostgreSQL, each
check's JSON encoded once per distinct check). The rule book's citations and
rule versions are recorded once per rule-book version in ``compliance_rulebooks``; each decision names that
version and keeps each check's rule version. Numbers are stored whole (the log must say who was called) and
masked in every log line.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from compliance.decision import Check, Decision
from compliance.fact_store import Gathered
from compliance.models import GateDecision, RulebookSnapshot
from compliance.rulebook import RuleBook
from seiketsu.db import table_of, utcnow


class RequesterKind(enum.StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked the gate: a user, an API key, or a component of the system ("dialer", "sms")."""

    kind: RequesterKind
    id: str

    @classmethod
    def system(cls, component: str) -> Requester:
        return cls(RequesterKind.SYSTEM, component)

    @property
    def label(self) -> str:
        return f"{self.kind.value}:{self.id}"


def decision_row(
    *,
    decision_id: uuid.UUID,
    organization_id: uuid.UUID,
    gathered: Gathered,
    decision: Decision,
    requester: Requester,
    decided_at: datetime,
    permit_expires_at: datetime | None,
) -> dict[str, Any]:
    """The audit row of one decision, as column values, except "checks": the decision's checks (``Check``)."""
    request = gathered.request
    return {
        "id": decision_id,
        "organization_id": organization_id,
        "decided_at": decided_at,
        "phone": gathered.phone[:32],
        "channel": request.channel.value,
        "voice": request.voice.value if request.voice is not None else None,
        "purpose": request.purpose.value,
        "at": gathered.at,
        "lead_id": gathered.lead_id or request.lead_id,
        "state": _cut(gathered.address.state, 2),
        "postal_code": _cut(gathered.address.postal_code, 10),
        "opt_out_confirmation": request.opt_out_confirmation,
        "allowed": decision.allowed,
        "checks": decision.checks,
        "next_allowed_at": decision.next_allowed_at,
        "rulebook_version": decision.rulebook_version[:64],
        "requested_by_kind": requester.kind.value,
        "requested_by": requester.id[:80],
        "permit_expires_at": permit_expires_at,
    }


def write_decisions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert audit rows (from ``decision_row``) in one statement."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_FROM:
        _copy_decisions(conn, rows)
        return
    values = [{**row, "checks": [_check_value(c) for c in row["checks"]]} for row in rows]
    conn.execute(sa.insert(table_of(GateDecision)), values)


# COPY takes a round trip more than an INSERT: worth it for a batch, not for one decision.
_COPY_FROM = 20


def _copy_decisions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    columns = list(rows[0])
    checks = columns.index("checks")
    statement = f"COPY {table_of(GateDecision).name} ({', '.join(columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the connection is closed")
    # Decisions share check objects (the gate memoises them): each is encoded once per call, found by identity
    # (every check stays alive in ``rows`` meanwhile).
    encoded: dict[int, str] = {}
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = list(row.values())
            parts = []
            for check in values[checks]:
                text = encoded.get(id(check))
                if text is None:
                    text = encoded[id(check)] = _check_json(check)
                parts.append(text)
            values[checks] = "[" + ", ".join(parts) + "]"
            copy.write_row(values)


def _check_value(check: Check) -> dict[str, str]:
    return {"rule": check.rule, "result": check.result.value, "detail": check.detail, "version": check.version}


@lru_cache(maxsize=8192)
def _check_json(check: Check) -> str:
    return json.dumps(_check_value(check))


def record_rulebook(conn: Connection, rulebook: RuleBook) -> None:
    """Record the citation and version of every rule of ``rulebook`` (once per version)."""
    rules: dict[str, Any] = {
        rule_id: {"citation": meta.citation, "version": meta.version} for rule_id, meta in rulebook.federal.items()
    }
    for jurisdiction_rules in rulebook.by_jurisdiction.values():
        for rule in jurisdiction_rules:
            rules[rule.meta.rule_id] = {"citation": rule.meta.citation, "version": rule.meta.version}
    table = table_of(RulebookSnapshot)
    insert = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    conn.execute(insert.values(version=rulebook.version, rules=rules, recorded_at=utcnow()).on_conflict_do_nothing())


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None
