"""Batches of many chunks: each chunk is read while the one before it is judged and the one before that recorded,
and nothing changes for it.

Answers come back in the order asked, every decision is recorded once, permits of earlier chunks count against
the frequency caps of later ones, and a chunk that cannot be recorded stops the batch: the chunks before it stay
recorded, nothing after it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from compliance.audit import Requester, checks_of
from compliance.fact_store import CheckRequest
from compliance.models import GateDecision
from compliance.permits import PermitAuthority
from compliance.rulebook import RuleBook
from compliance.service import ComplianceGate, GateUnavailable
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.tenancy.scoping import system_session
from tests.compliance.support import NY_PHONE, FixedClock, grant, registry_copy
from tests.factories import OrgFixture, login, make_org

FL_PHONE = "+18505550134"
REFUSED_PHONE = "+12125550199"
REQUESTER = Requester.system("batch-test")


@pytest.fixture
def org(client: TestClient, container: Container) -> OrgFixture:
    organization = make_org(container, "acme")
    headers = login(client, organization)
    for phone in (NY_PHONE, FL_PHONE):
        grant(client, headers, phone)
    registry_copy(container, organization.id)
    registry_copy(container, organization.id, area_codes=("850",))
    registry_copy(container, organization.id, area_codes=("850",), list_name="state:FL")
    return organization


def small_chunks(container: Container, size: int) -> ComplianceGate:
    return ComplianceGate(
        engine=container.engine,
        rulebook=RuleBook.load(),
        permits=PermitAuthority(container.settings.secret_key),
        clock=FixedClock(),
        chunk_size=size,
    )


def ask(phone: str) -> CheckRequest:
    return CheckRequest(phone=phone, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING)


def recorded(container: Container, organization_id: uuid.UUID) -> dict[uuid.UUID, str]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, phone FROM compliance_decisions WHERE organization_id = :org"),
            {"org": organization_id},
        )
        return {row.id: row.phone for row in rows}


def test_a_batch_of_many_chunks_answers_in_order_and_records_each_decision_once(
    container: Container, org: OrgFixture
) -> None:
    phones = [NY_PHONE if i % 3 == 0 else f"+1212555{i:04d}" for i in range(47)]  # 7 chunks, one not full
    results = small_chunks(container, 7).check_many(org.id, [ask(p) for p in phones], requester=REQUESTER)
    assert [r.allowed for r in results] == [i % 3 == 0 for i in range(47)]  # only NY_PHONE has written consent
    rows = recorded(container, org.id)
    assert len(rows) == 47
    assert [rows[r.decision_id] for r in results] == phones
    assert {r.decision_id.version for r in results} == {4}  # random ids, each its own
    assert len({r.decision_id for r in results}) == 47


def test_permits_of_earlier_chunks_count_against_later_chunks_caps(container: Container, org: OrgFixture) -> None:
    # Florida allows 3 attempts per 24 hours; the five questions are spread over three chunks.
    results = small_chunks(container, 2).check_many(
        org.id, [ask(FL_PHONE)] * 5, requester=REQUESTER, issue_permits=True
    )
    assert [r.permit is not None for r in results] == [True, True, True, False, False]
    assert {c.rule for c in results[3].decision.blocking} == {"FL.frequency_cap"}


@pytest.fixture
def refusing_trigger(container: Container) -> Iterator[None]:
    """A database that refuses to record one number's decisions, as a full disk or a lost connection would."""
    with container.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_decision() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.phone = '{REFUSED_PHONE}' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; "
            "END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_decision BEFORE INSERT ON compliance_decisions "
            "FOR EACH ROW EXECUTE FUNCTION refuse_decision()"
        )
    yield
    with container.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_decision ON compliance_decisions")
        conn.exec_driver_sql("DROP FUNCTION refuse_decision()")


@pytest.mark.usefixtures("refusing_trigger")
@pytest.mark.parametrize("issue_permits", [False, True])
def test_a_chunk_that_cannot_be_recorded_stops_the_batch(
    container: Container, org: OrgFixture, issue_permits: bool
) -> None:
    phones = [f"+1212555{i:04d}" for i in range(100, 250)]  # six chunks of 25 (their audit rows go in by COPY)
    phones[60] = REFUSED_PHONE  # in the third chunk
    gate = small_chunks(container, 25)
    with pytest.raises(GateUnavailable):
        gate.check_many(org.id, [ask(p) for p in phones], requester=REQUESTER, issue_permits=issue_permits)
    assert sorted(recorded(container, org.id).values()) == sorted(phones[:50])
    # The fourth chunk was judged and the fifth read (with permits, their numbers locked) meanwhile: discarded.
    assert container.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.usefixtures("refusing_trigger")
@pytest.mark.parametrize("issue_permits", [False, True])
def test_check_sets_of_a_chunk_not_recorded_are_sent_again(
    container: Container, org: OrgFixture, issue_permits: bool
) -> None:
    """The gate remembers which check sets are in the database only once their transaction has committed: with
    permits, the sets of a refused chunk are rolled back with it (plain answers commit statement by statement,
    sets first, so a set may stay unused), and the next decisions that need them find or insert them again."""
    gate = small_chunks(container, 25)
    florida = [f"+1850555{i:04d}" for i in range(100, 125)]  # one answer for all, new to the database
    with pytest.raises(GateUnavailable):
        gate.check_many(
            org.id, [ask(p) for p in [*florida[:24], REFUSED_PHONE]], requester=REQUESTER, issue_permits=issue_permits
        )
    if issue_permits:
        with container.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM compliance_check_sets")).scalar() == 0
    results = gate.check_many(org.id, [ask(p) for p in florida], requester=REQUESTER, issue_permits=issue_permits)
    with system_session(container.sessions) as session:
        for result in results:
            row = session.get(GateDecision, result.decision_id)
            assert row is not None
            assert [c["detail"] for c in checks_of(session, row)] == [c.detail for c in result.decision.checks]
