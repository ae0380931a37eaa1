"""The audit log, the consent ledger and the internal Do-Not-Call list cannot be altered: not through the
application's sessions (ORM guard), and not by SQL on PostgreSQL (trigger)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from compliance.append_only import AppendOnlyViolation
from compliance.audit import Requester, check_set_digest, checks_of
from compliance.fact_store import CheckRequest
from compliance.models import ConsentRecord, DoNotCallRequest, GateCheckSet, GateDecision
from compliance.service import GateResult
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.tenancy.scoping import system_session, tenant_session
from tests.compliance.support import NY_PHONE, check, grant, install_gate
from tests.factories import OrgFixture, login, make_org


@pytest.fixture
def org(client: TestClient, container: Container) -> OrgFixture:
    organization = make_org(container, "acme")
    headers = login(client, organization)
    install_gate(container)
    check(client, headers)
    grant(client, headers)
    assert client.post("/api/v1/dnc", headers=headers, json={"phone": NY_PHONE}).status_code == 201
    return organization


APPEND_ONLY: tuple[type[Any], ...] = (GateDecision, ConsentRecord, DoNotCallRequest)
ALTERATIONS: dict[str, Callable[[Session, Any], None]] = {
    "attribute change": lambda session, row: setattr(row, "phone", "+12125550100"),
    "session.delete": lambda session, row: session.delete(row),
}


def test_rows_cannot_be_changed_or_deleted_through_the_orm(container: Container, org: OrgFixture) -> None:
    for model in APPEND_ONLY:
        for name, alteration in ALTERATIONS.items():
            with tenant_session(container.sessions, org.id) as session:
                alteration(session, session.scalars(sa.select(model)).one())
                with pytest.raises(AppendOnlyViolation):
                    session.commit()
                session.rollback()
            with tenant_session(container.sessions, org.id) as session:
                assert session.scalars(sa.select(model)).one().phone == NY_PHONE, (model, name)


def test_bulk_update_and_delete_statements_are_refused(container: Container, org: OrgFixture) -> None:
    with system_session(container.sessions) as session:
        for model in APPEND_ONLY:
            with pytest.raises(AppendOnlyViolation, match="append-only"):
                session.execute(sa.update(model).values(phone="+12125550100"))
            with pytest.raises(AppendOnlyViolation, match="append-only"):
                session.execute(sa.delete(model))
            with pytest.raises(AppendOnlyViolation):
                session.query(model).delete()


def test_postgresql_refuses_sql_updates_and_deletes(container: Container, org: OrgFixture) -> None:
    for table in ("compliance_decisions", "consent_events", "dnc_internal"):
        for statement in (f"UPDATE {table} SET phone = '+12125550100'", f"DELETE FROM {table}"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), container.engine.begin() as connection:
                connection.exec_driver_sql(statement)
        with container.engine.connect() as connection:
            count = connection.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE phone = %s", (NY_PHONE,)).scalar()
        assert count == 1, table


def test_check_sets_cannot_be_changed_or_deleted(container: Container, org: OrgFixture) -> None:
    with system_session(container.sessions) as session:
        stored = session.scalars(sa.select(GateCheckSet)).one()
        stored.checks = []
        with pytest.raises(AppendOnlyViolation):
            session.commit()
        session.rollback()
        with pytest.raises(AppendOnlyViolation, match="append-only"):
            session.execute(sa.delete(GateCheckSet))
    for statement in ("UPDATE compliance_check_sets SET checks = '[]'", "DELETE FROM compliance_check_sets"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), container.engine.begin() as connection:
            connection.exec_driver_sql(statement)
    with system_session(container.sessions) as session:
        (stored,) = session.scalars(sa.select(GateCheckSet)).all()
        assert stored.checks and check_set_digest(stored.checks) == stored.digest


def test_decisions_with_equal_checks_share_one_set_per_organization(
    client: TestClient, container: Container, org: OrgFixture
) -> None:
    gate = install_gate(container)
    other = make_org(container, "other")
    requests = [
        CheckRequest(
            phone=f"+1212555{i:04d}", channel=Channel.VOICE, voice=VoiceKind.LIVE, purpose=Purpose.INFORMATIONAL
        )
        for i in range(200, 240)  # none with history: one answer for all
    ]
    mine = gate.check_many(org.id, requests, requester=Requester.system("campaign-9"))
    theirs = gate.check_many(other.id, requests[:3], requester=Requester.system("campaign-9"))
    with system_session(container.sessions) as session:
        decisions = {row.id: row for row in session.scalars(sa.select(GateDecision))}
        sets = {(s.organization_id, s.digest): s for s in session.scalars(sa.select(GateCheckSet))}
    digests = {decisions[r.decision_id].checks_digest for r in mine}
    assert len(digests) == 1
    (digest,) = digests
    assert {decisions[r.decision_id].checks_digest for r in theirs} == {digest}
    assert {(org.id, digest), (other.id, digest)} <= set(sets)  # each organization holds its own copy
    with tenant_session(container.sessions, other.id) as session:
        assert session.get(GateCheckSet, (org.id, digest)) is None  # and sees no other's


def test_every_decision_is_recorded_with_who_asked(client: TestClient, container: Container, org: OrgFixture) -> None:
    gate = install_gate(container)
    request = CheckRequest(phone=NY_PHONE, channel=Channel.VOICE, voice=VoiceKind.LIVE, purpose=Purpose.INFORMATIONAL)
    results = gate.check_many(org.id, [request, request], requester=Requester.system("campaign-7"))
    with tenant_session(container.sessions, org.id) as session:
        rows = {row.id: row for row in session.scalars(sa.select(GateDecision))}
    assert len(rows) == 3  # the API check made by the fixture, and these two
    for result in results:
        row = rows[result.decision_id]
        assert (row.requested_by_kind, row.requested_by) == ("system", "campaign-7")
        assert row.allowed is result.allowed and row.voice == "live" and row.purpose == "informational"


def test_a_batch_recorded_by_copy_keeps_every_check_and_column(
    client: TestClient, container: Container, org: OrgFixture
) -> None:
    gate = install_gate(container)
    requests = [
        CheckRequest(
            phone=NY_PHONE if i % 2 else f"+1212555{i:04d}",
            channel=Channel.VOICE,
            voice=VoiceKind.ARTIFICIAL,
            purpose=Purpose.MARKETING,
            state="NY",
            postal_code="10001",
        )
        for i in range(30)  # above the size from which the audit rows go in by COPY
    ]
    results = gate.check_many(org.id, requests, requester=Requester.system("campaign-8"))
    with tenant_session(container.sessions, org.id) as session:
        rows = {row.id: row for row in session.scalars(sa.select(GateDecision))}
    for request, result in zip(requests, results, strict=True):
        row = rows[result.decision_id]
        with tenant_session(container.sessions, org.id) as session:
            stored = checks_of(session, row)
        assert stored == [
            {"rule": c.rule, "result": c.result.value, "detail": c.detail, "version": c.version}
            for c in result.decision.checks
        ]
        assert check_set_digest(stored) == row.checks_digest
        assert (row.phone, row.state, row.postal_code, row.voice) == (request.phone, "NY", "10001", "artificial")
        assert row.allowed is result.allowed and row.next_allowed_at == result.decision.next_allowed_at
        assert (row.requested_by_kind, row.requested_by, row.permit_expires_at) == ("system", "campaign-8", None)


def test_copy_records_every_column_as_an_insert_does(container: Container, org: OrgFixture) -> None:
    """A batch's rows (COPY: escapes, NULLs, booleans, moments with their offsets) equal those the same questions
    get one by one (INSERT)."""
    gate = install_gate(container)
    odd = ["12\t34", "line\nbreak\r", "back\\slash", "\\N", "ünïcødé", ""]  # recorded as given: no valid number
    chicago = datetime.now(ZoneInfo("America/Chicago"))
    requests = [
        CheckRequest(
            phone=odd[i // 4] if i % 4 == 0 and i // 4 < len(odd) else (NY_PHONE if i % 2 else f"+1212555{i:04d}"),
            channel=Channel.VOICE if i % 3 else Channel.SMS,
            voice=VoiceKind.ARTIFICIAL if i % 3 else None,
            purpose=Purpose.MARKETING if i % 5 else Purpose.INFORMATIONAL,
            at=chicago if i % 7 == 0 else None,
            state="NY" if i % 2 else None,
            postal_code="10001" if i % 6 == 1 else None,
        )
        for i in range(30)  # above the size from which the audit rows go in by COPY
    ]
    requester = Requester.system("tab\there")
    batch = gate.check_many(org.id, requests, requester=requester)
    one_by_one = [gate.check(org.id, request, requester=requester) for request in requests]
    columns = [c.name for c in sa.inspect(GateDecision).columns if c.name not in ("id", "decided_at")]
    with tenant_session(container.sessions, org.id) as session:

        def stored(result: GateResult) -> dict[str, object]:
            row = session.get(GateDecision, result.decision_id)
            assert row is not None
            return {name: getattr(row, name) for name in columns}

        copied = [stored(result) for result in batch]
        assert copied == [stored(result) for result in one_by_one]
    assert [row["phone"] for row in copied[:24:4]] == odd
    assert {row["at"] for row in copied[::7]} == {chicago}



def test_a_batch_stores_check_sets_whose_details_hold_quotes_backslashes_and_unicode(
    container: Container, org: OrgFixture
) -> None:
    """A batch's new check sets go in as a binary array of JSON texts: details with quotes, backslashes, braces,
    commas and non-ASCII text come back as given, and each stored set still matches its digest."""
    gate = install_gate(container)
    states = ['Q"', "Z\\", "{,}", "Ü\"\\", "'\t'", "NY"]  # unknown states are named in the time-zone check
    requests = [
        CheckRequest(phone=f"+1212555{i:04d}", channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL,
                     purpose=Purpose.MARKETING, state=states[i % len(states)])
        for i in range(30)  # above the size from which the audit rows go in by COPY
    ]  # fmt: skip
    results = gate.check_many(org.id, requests, requester=Requester.system("test"))
    details = {c.detail for result in results for c in result.decision.checks}
    assert any('Q"' in d for d in details) and any("Ü" in d for d in details)
    with tenant_session(container.sessions, org.id) as session:
        for result in results:
            row = session.get(GateDecision, result.decision_id)
            assert row is not None
            stored = checks_of(session, row)
            assert [c["detail"] for c in stored] == [c.detail for c in result.decision.checks]
            assert check_set_digest(stored) == row.checks_digest


def test_a_single_decision_goes_in_with_its_new_check_set_in_one_statement(
    container: Container, org: OrgFixture
) -> None:
    """One statement, so one commit (one WAL flush) on the gate's autocommit connection; once the set is known,
    the next decision naming it inserts only its row."""
    gate = install_gate(container)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "compliance_decisions" in statement or "compliance_check_sets" in statement:
            statements.append(statement)

    question = CheckRequest(
        phone="+18505550134", channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING
    )
    sa.event.listen(container.engine, "before_cursor_execute", seen)
    try:
        first = gate.check(org.id, question, requester=Requester.system("test"))
        second = gate.check(org.id, question, requester=Requester.system("test"))
    finally:
        sa.event.remove(container.engine, "before_cursor_execute", seen)
    writes = [statement for statement in statements if not statement.lstrip().upper().startswith("SELECT")]
    assert len(writes) == 2
    assert "compliance_check_sets" in writes[0] and "compliance_check_sets" not in writes[1]
    with tenant_session(container.sessions, org.id) as session:
        for result in (first, second):
            row = session.get(GateDecision, result.decision_id)
            assert row is not None
            assert [c["detail"] for c in checks_of(session, row)] == [c.detail for c in result.decision.checks]
