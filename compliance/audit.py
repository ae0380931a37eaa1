"""The gate's audit log: who asked what, what the gate answered, and every rule's verdict.

Rows are built in memory and written in bulk (one statement for a whole batch: ``COPY`` on PostgreSQL). A decision's
checks (each rule's verdict, detail and version) are stored once per distinct list in ``compliance_check_sets``,
named by the SHA-256 digest of their canonical JSON: the row holds the digest, which also lets an auditor verify the
set. The rule book's citations and rule versions are recorded once per rule-book version in ``compliance_rulebooks``;
each decision names that version. Numbers are stored whole (the log must say who was called) and masked in every log
line.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from compliance.decision import Check, Decision
from compliance.fact_store import Gathered
from compliance.models import GateCheckSet, GateDecision, RulebookSnapshot
from compliance.rulebook import RuleBook
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.db import UTCDateTime, table_of, utcnow


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
        "channel": _VALUES[request.channel],
        "voice": _VALUES[request.voice] if request.voice is not None else None,
        "purpose": _VALUES[request.purpose],
        "at": gathered.at,
        "lead_id": gathered.lead_id or request.lead_id,
        "state": _cut(gathered.address.state, 2),
        "postal_code": _cut(gathered.address.postal_code, 10),
        "opt_out_confirmation": request.opt_out_confirmation,
        "allowed": decision.allowed,
        "checks": decision.checks,
        "next_allowed_at": decision.next_allowed_at,
        "rulebook_version": decision.rulebook_version[:64],
        "requested_by_kind": _VALUES[requester.kind],
        "requested_by": requester.id[:80],
        "permit_expires_at": permit_expires_at,
    }


# The members' values, read per audit row: a dictionary answers in a tenth of the time ``.value`` takes.
_VALUES: dict[enum.StrEnum, str] = {
    member: member.value for kind in (Channel, VoiceKind, Purpose, RequesterKind) for member in kind
}


class RecordedCheckSets:
    """The check sets known to be in the database (committed, and append-only): writes send only new ones.

    Add a set only after the transaction that inserted it (or read it) has committed. Bounded: when full it starts
    again empty, which costs a few sets sent again (the insert ignores those already there).
    """

    def __init__(self, maxsize: int = 1 << 16) -> None:
        self._keys: set[tuple[uuid.UUID, str]] = set()
        self._maxsize = maxsize

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add_all(self, keys: Collection[tuple[uuid.UUID, str]]) -> None:
        if len(self._keys) + len(keys) > self._maxsize:
            self._keys = set()
        self._keys.update(keys)


def write_decisions(
    conn: Connection, rows: Sequence[dict[str, Any]], recorded: RecordedCheckSets | None = None
) -> list[tuple[uuid.UUID, str]]:
    """Insert audit rows (from ``decision_row``) and the check sets they name that ``recorded`` does not hold, in
    two statements at most (one for a single row with a new set on PostgreSQL). Returns the sets' keys
    (organization, digest), to add to ``recorded`` after commit."""
    if not rows:
        return []
    # By the identity of a decision's checks (decisions share them: the gate memoises), their digest and text.
    encoded: dict[int, tuple[str, str]] = {}
    sets: dict[tuple[uuid.UUID, str], str] = {}
    for row in rows:
        checks = row["checks"]
        found = encoded.get(id(checks))  # every checks tuple stays alive in ``rows`` meanwhile
        if found is None:
            text = canonical_checks(checks)
            found = encoded[id(checks)] = (_digest(text), text)
        sets.setdefault((row["organization_id"], found[0]), found[1])
    digests = {key: digest for key, (digest, _) in encoded.items()}
    new_sets = {key: text for key, text in sets.items() if recorded is None or key not in recorded}
    if conn.dialect.name == "postgresql" and len(rows) == 1 and len(new_sets) == 1:
        # One decision and its new set in one statement: on an autocommit connection, one commit (WAL flush).
        [((_, digest), text)] = new_sets.items()
        conn.execute(_pg_insert_with_set(), {**_with_digest(rows[0], digest), "set_checks": text, "set_at": utcnow()})
        return list(sets)
    # The sets go in first: on an autocommit connection (the gate's plain answers) each statement commits on its
    # own, and no row may name a set that is not there (a set left unused by a failed COPY harms nothing).
    _insert_check_sets(conn, new_sets)
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_FROM:
        _copy_decisions(conn, rows, digests)
    else:
        conn.execute(sa.insert(table_of(GateDecision)), [_with_digest(row, digests[id(row["checks"])]) for row in rows])
    return list(sets)


def _with_digest(row: dict[str, Any], digest: str) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "checks"} | {"checks_digest": digest}


def canonical_checks(checks: Sequence[Check]) -> str:
    """The JSON text a check set's digest is taken of: sorted keys, no spaces (``canonical_json`` of its list)."""
    return "[" + ",".join(_check_json(check) for check in checks) + "]"


def canonical_json(value: Any) -> str:
    """The canonical form of a stored check set (the database may reorder keys): ``canonical_checks``' text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_set_digest(value: Any) -> str:
    """The digest of a stored check set's JSON value: what the audit rows naming it hold."""
    return _digest(canonical_json(value))


def _digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


def checks_of(session: Session, decision: GateDecision) -> list[dict[str, str]]:
    """The checks of a recorded decision, read from its check set (in a session scoped to its organization)."""
    found = session.get(GateCheckSet, (decision.organization_id, decision.checks_digest))
    if found is None:
        raise LookupError(f"check set {decision.checks_digest} of decision {decision.id} not found")
    return list(found.checks)


# COPY takes a round trip more than an INSERT: worth it for a batch, not for one decision.
_COPY_FROM = 20


def _insert_check_sets(conn: Connection, sets: dict[tuple[uuid.UUID, str], str]) -> None:
    """Insert the sets (canonical JSON texts by organization and digest) not recorded yet, in key order (two
    batches never wait on each other in a cycle)."""
    if not sets:
        return
    ordered = sorted(sets.items(), key=lambda item: (str(item[0][0]), item[0][1]))
    now = utcnow()
    if conn.dialect.name == "postgresql":
        with _driver(conn).cursor() as cursor:
            for organization_id in dict.fromkeys(key[0] for key, _ in ordered):
                mine = [(key[1], text) for key, text in ordered if key[0] == organization_id]
                cursor.execute(_PG_INSERT_SETS, (organization_id, now, [d for d, _ in mine], [t for _, t in mine]))
        return
    conn.execute(
        _SQLITE_INSERT_SETS,
        [{"org": key[0], "digest": key[1], "checks": text, "now": now} for key, text in ordered],
    )


# psycopg's parameters (%b: binary). The texts go as a binary text[]: in the text format psycopg quotes and
# escapes every element, which costs more than the rest of a batch's audit for JSON full of quotes.
_PG_INSERT_SETS = (
    "INSERT INTO compliance_check_sets (organization_id, digest, checks, recorded_at) "
    "SELECT %b, s.digest, CAST(s.checks AS jsonb), %b "
    "FROM unnest(%b::text[], %b::text[]) WITH ORDINALITY AS s(digest, checks, n) "
    "ORDER BY s.n ON CONFLICT DO NOTHING"
)
_SQLITE_INSERT_SETS = sa.text(
    "INSERT INTO compliance_check_sets (organization_id, digest, checks, recorded_at) "
    "VALUES (:org, :digest, :checks, :now) ON CONFLICT DO NOTHING"
).bindparams(sa.bindparam("org", type_=sa.Uuid()), sa.bindparam("now", type_=UTCDateTime()))


@lru_cache(maxsize=1)
def _pg_insert_with_set() -> sa.TextClause:
    """INSERT of one audit row whose statement also inserts its check set (a data-modifying CTE)."""
    columns = list(table_of(GateDecision).columns)
    names = ", ".join(column.name for column in columns)
    values = ", ".join(f":{column.name}" for column in columns)
    return sa.text(
        "WITH new_set AS (INSERT INTO compliance_check_sets (organization_id, digest, checks, recorded_at) "
        "VALUES (:organization_id, :checks_digest, CAST(:set_checks AS jsonb), :set_at) ON CONFLICT DO NOTHING) "
        f"INSERT INTO compliance_decisions ({names}) VALUES ({values})"
    ).bindparams(
        *(sa.bindparam(column.name, type_=column.type) for column in columns),
        sa.bindparam("set_at", type_=UTCDateTime()),
    )


def _copy_decisions(conn: Connection, rows: Sequence[dict[str, Any]], digests: dict[int, str]) -> None:
    """COPY in PostgreSQL's binary format: psycopg adapts a row in about a microsecond that way, against seven in
    the text format (which parses and escapes every value)."""
    names = ["checks_digest" if name == "checks" else name for name in rows[0]]
    checks = names.index("checks_digest")
    statement = f"COPY {table_of(GateDecision).name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    types = _copy_types()
    with _driver(conn).cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([types[name] for name in names])
        for row in rows:
            values = list(row.values())
            values[checks] = digests[id(values[checks])]
            copy.write_row(values)


def _driver(conn: Connection) -> Any:
    """The psycopg connection under ``conn``, in its transaction."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise RuntimeError("the connection is closed")
    return driver


@lru_cache(maxsize=1)
def _copy_types() -> dict[str, str]:
    """The PostgreSQL type psycopg sends each audit column as (text serves every character column)."""
    kinds: list[tuple[type[Any], str]] = [(sa.Uuid, "uuid"), (UTCDateTime, "timestamptz"), (sa.String, "text"),
                                          (sa.Boolean, "bool")]  # fmt: skip
    types = {}
    for column in table_of(GateDecision).columns:
        found = [name for kind, name in kinds if isinstance(column.type, kind) or isinstance(_impl(column), kind)]
        if not found:
            raise TypeError(f"no COPY type for column {column.name} ({column.type!r})")
        types[column.name] = found[0]
    return types


def _impl(column: sa.Column[Any]) -> object:
    """What a decorated type (``UTCDateTime``, SQLModel's strings) stores as."""
    return column.type.impl if isinstance(column.type, sa.TypeDecorator) else column.type


def _check_value(check: Check) -> dict[str, str]:
    return {"rule": check.rule, "result": check.result.value, "detail": check.detail, "version": check.version}


@lru_cache(maxsize=8192)
def _check_json(check: Check) -> str:
    return canonical_json(_check_value(check))


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
