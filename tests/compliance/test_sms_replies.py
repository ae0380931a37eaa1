"""Inbound texts: opt-out by keyword and by free text, the one confirmation text, and re-subscription."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from compliance.audit import Requester
from compliance.decision import Decision
from compliance.internal_dnc import internal_statuses, record_do_not_call
from compliance.models import ConsentRecord, DoNotCallRequest, DoNotCallWithdrawal
from compliance.permits import DialPermit
from compliance.service import ComplianceGate
from compliance.sms_keywords import SmsIntent
from compliance.sms_replies import SmsReplyOutcome, record_sms_reply
from compliance.vocabulary import Channel, Purpose
from seiketsu.container import Container
from seiketsu.tenancy.scoping import tenant_session
from tests.compliance.support import NOW, NY_PHONE, FixedClock, install_gate, record_consent, registry_copy
from tests.factories import OrgFixture, make_org

SMS = Requester.system("sms")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW + timedelta(minutes=1))


@pytest.fixture
def org(container: Container) -> OrgFixture:
    organization = make_org(container, "acme")
    record_consent(container, organization.id)
    registry_copy(container, organization.id)
    return organization


@pytest.fixture
def gate(container: Container, clock: FixedClock, org: OrgFixture) -> ComplianceGate:
    return install_gate(container, clock=clock)


def _reply(container: Container, org: OrgFixture, text: str, *, at: datetime = NOW) -> SmsReplyOutcome:
    with tenant_session(container.sessions, org.id) as session:
        outcome = record_sms_reply(session, phone=NY_PHONE, text=text, at=at)
        session.commit()
        return outcome


def _text(
    gate: ComplianceGate, org: OrgFixture, purpose: Purpose = Purpose.MARKETING, *, opt_out_confirmation: bool = False
) -> tuple[Decision, DialPermit | None]:
    return gate.permit(
        org.id, phone=NY_PHONE, channel=Channel.SMS, purpose=purpose, requester=SMS,
        opt_out_confirmation=opt_out_confirmation,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "method"),
    [("STOP", "sms_keyword"), ("Stop please!", "sms_keyword"), ("please stop texting me", "free_text"),
     ("Who is this? Remove me from your list", "free_text")],
)  # fmt: skip
def test_an_opt_out_lists_the_number_and_revokes_texts(
    container: Container, org: OrgFixture, gate: ComplianceGate, text: str, method: str
) -> None:
    assert _text(gate, org)[1] is not None  # texts were allowed before
    outcome = _reply(container, org, text)
    assert outcome.intent is SmsIntent.OPT_OUT and outcome.may_confirm
    assert outcome.confirm_by == NOW + timedelta(minutes=5)
    with tenant_session(container.sessions, org.id) as session:
        request = session.scalars(sa.select(DoNotCallRequest)).one()
        revocation = session.scalars(sa.select(ConsentRecord).where(col(ConsentRecord.action) == "revoke")).one()
    assert (request.source, request.requested_at) == ("sms", NOW)
    assert (revocation.method, revocation.channels, revocation.detail) == (method, ["sms"], text)
    decision, permit = _text(gate, org)
    assert permit is None
    assert {"federal.internal_dnc", "federal.consent.written"} <= {c.rule for c in decision.blocking}


def test_one_confirmation_text_within_five_minutes(
    container: Container, org: OrgFixture, gate: ComplianceGate, clock: FixedClock
) -> None:
    _reply(container, org, "UNSUBSCRIBE")
    decision, permit = _text(gate, org, Purpose.INFORMATIONAL, opt_out_confirmation=True)
    assert permit is not None, decision.blocking
    decision, permit = _text(gate, org, Purpose.INFORMATIONAL, opt_out_confirmation=True)
    assert permit is None and {c.rule for c in decision.blocking} >= {"federal.opt_out_confirmation"}
    again = _reply(container, org, "STOP", at=NOW + timedelta(minutes=2))
    assert again.intent is SmsIntent.OPT_OUT and not again.may_confirm


def test_a_late_or_marketing_confirmation_is_refused(
    container: Container, org: OrgFixture, gate: ComplianceGate, clock: FixedClock
) -> None:
    _reply(container, org, "STOP")
    decision, permit = _text(gate, org, Purpose.MARKETING, opt_out_confirmation=True)
    assert permit is None
    clock.now = NOW + timedelta(minutes=6)
    decision, permit = _text(gate, org, Purpose.INFORMATIONAL, opt_out_confirmation=True)
    assert permit is None and "federal.opt_out_confirmation" in {c.rule for c in decision.blocking}


def test_start_after_a_text_opt_out_resubscribes_to_informational_texts(
    container: Container, org: OrgFixture, gate: ComplianceGate
) -> None:
    _reply(container, org, "STOP", at=NOW - timedelta(days=2))
    outcome = _reply(container, org, "START", at=NOW - timedelta(days=1))
    assert outcome.intent is SmsIntent.OPT_IN and outcome.resubscribed
    with tenant_session(container.sessions, org.id) as session:
        assert session.scalars(sa.select(DoNotCallWithdrawal)).one().source == "sms"
        assert not internal_statuses(session, [NY_PHONE]).get(NY_PHONE, None).listed  # type: ignore[union-attr]
        assert session.scalars(sa.select(DoNotCallRequest)).one()  # the request stays on record
    assert _text(gate, org, Purpose.INFORMATIONAL)[1] is not None
    decision, permit = _text(gate, org, Purpose.MARKETING)
    assert permit is None and {c.rule for c in decision.blocking} == {"federal.consent.written"}


def test_start_cannot_undo_a_request_made_on_a_call(
    container: Container, org: OrgFixture, gate: ComplianceGate
) -> None:
    with tenant_session(container.sessions, org.id) as session:
        record_do_not_call(session, phone=NY_PHONE, source="call", requested_at=NOW - timedelta(days=3))
        session.commit()
    _reply(container, org, "STOP", at=NOW - timedelta(days=2))
    outcome = _reply(container, org, "unstop", at=NOW - timedelta(days=1))
    assert outcome.intent is SmsIntent.OPT_IN and not outcome.resubscribed
    decision, permit = _text(gate, org, Purpose.INFORMATIONAL)
    assert permit is None and "federal.internal_dnc" in {c.rule for c in decision.blocking}


@pytest.mark.parametrize("text", ["HELP", "Can I stop by at 5 to see the house?"])
def test_other_texts_change_nothing(container: Container, org: OrgFixture, text: str) -> None:
    outcome = _reply(container, org, text)
    assert outcome.intent in (SmsIntent.HELP, SmsIntent.OTHER) and not outcome.may_confirm
    with tenant_session(container.sessions, org.id) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DoNotCallRequest)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 1  # the grant only
