"""Permits: only the gate issues them; forged, expired and mismatched permits are refused."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from compliance.audit import Requester
from compliance.fact_store import CheckRequest
from compliance.models import GateDecision
from compliance.permits import DialPermit, ExpiredPermit, ForgedPermit, PermitAuthority, PermitMismatch
from compliance.service import ComplianceGate
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.tenancy.scoping import tenant_session
from tests.compliance.support import NOW, NY_PHONE, FixedClock, install_gate, record_consent, registry_copy
from tests.factories import OrgFixture, make_org

DIALER = Requester.system("dialer")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def org(container: Container) -> OrgFixture:
    organization = make_org(container, "acme")
    record_consent(container, organization.id)
    registry_copy(container, organization.id)
    return organization


@pytest.fixture
def gate(container: Container, clock: FixedClock, org: OrgFixture) -> ComplianceGate:
    return install_gate(container, clock=clock)


def _permit(gate: ComplianceGate, org: OrgFixture, phone: str = NY_PHONE) -> DialPermit:
    decision, permit = gate.permit(
        org.id, phone=phone, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING,
        requester=DIALER,
    )  # fmt: skip
    assert decision.allowed and permit is not None, decision.blocking
    return permit


def test_an_allowed_decision_carries_a_permit_that_verifies(gate: ComplianceGate, org: OrgFixture) -> None:
    permit = _permit(gate, org)
    assert permit.phone == NY_PHONE and permit.channel is Channel.VOICE and permit.organization_id == org.id
    assert gate.verify_permit(permit, phone="(212) 555-0134", channel=Channel.VOICE) is permit
    assert permit.expires_at == NOW + timedelta(seconds=60)


def test_a_permit_is_an_attempt_and_an_answer_is_not(
    container: Container, gate: ComplianceGate, org: OrgFixture
) -> None:
    permit = _permit(gate, org)
    advice = gate.check(
        org.id,
        CheckRequest(phone=NY_PHONE, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING),
        requester=DIALER,
    )
    assert advice.allowed and advice.permit is None
    with tenant_session(container.sessions, org.id) as session:
        rows = {r.id: r for r in session.scalars(sa.select(GateDecision))}
    assert rows[permit.decision_id].permit_expires_at == permit.expires_at
    assert rows[advice.decision_id].permit_expires_at is None


def test_a_blocked_decision_carries_no_permit(gate: ComplianceGate, org: OrgFixture) -> None:
    decision, permit = gate.permit(
        org.id, phone="+12125550999", channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING,
        requester=DIALER,
    )  # fmt: skip
    assert not decision.allowed and permit is None


def test_permits_are_only_made_by_the_gate() -> None:
    with pytest.raises(TypeError):
        DialPermit(phone=NY_PHONE)  # type: ignore[call-arg]


def test_a_changed_permit_is_forged(gate: ComplianceGate, org: OrgFixture) -> None:
    permit = _permit(gate, org)
    with pytest.raises(TypeError):
        dataclasses.replace(permit, phone="+12125550100")
    tampered = gate.permit_from_token(permit.to_token())
    object.__setattr__(tampered, "phone", "+12125550100")
    with pytest.raises(ForgedPermit):
        gate.verify_permit(tampered, phone="+12125550100", channel=Channel.VOICE)
    stretched = gate.permit_from_token(permit.to_token())
    object.__setattr__(stretched, "expires_at", permit.expires_at + timedelta(hours=1))
    with pytest.raises(ForgedPermit):
        gate.verify_permit(stretched, phone=NY_PHONE, channel=Channel.VOICE)


def test_a_permit_signed_with_another_key_is_forged(gate: ComplianceGate, org: OrgFixture) -> None:
    permit = _permit(gate, org)
    other = PermitAuthority("another-secret-key-that-is-long-enough-000000")
    with pytest.raises(ForgedPermit):
        other.verify(permit, phone=NY_PHONE, channel=Channel.VOICE, now=NOW)
    with pytest.raises(ForgedPermit):
        other.from_token(permit.to_token())


def test_an_expired_permit_is_refused(gate: ComplianceGate, org: OrgFixture, clock: FixedClock) -> None:
    permit = _permit(gate, org)
    clock.now = NOW + timedelta(seconds=60)
    with pytest.raises(ExpiredPermit):
        gate.verify_permit(permit, phone=NY_PHONE, channel=Channel.VOICE)
    clock.now = NOW - timedelta(minutes=5)
    with pytest.raises(ExpiredPermit):
        gate.verify_permit(permit, phone=NY_PHONE, channel=Channel.VOICE)


def test_a_permit_for_another_number_or_channel_is_refused(gate: ComplianceGate, org: OrgFixture) -> None:
    permit = _permit(gate, org)
    with pytest.raises(PermitMismatch, match="another number"):
        gate.verify_permit(permit, phone="+12125550135", channel=Channel.VOICE)
    with pytest.raises(PermitMismatch, match="voice"):
        gate.verify_permit(permit, phone=NY_PHONE, channel=Channel.SMS)
    with pytest.raises(PermitMismatch):
        gate.verify_permit(permit, phone="not a number", channel=Channel.VOICE)


def test_tokens_carry_permits_and_refuse_garbage(gate: ComplianceGate, org: OrgFixture) -> None:
    permit = _permit(gate, org)
    assert gate.permit_from_token(permit.to_token()) == permit
    for token in ("", "garbage", permit.to_token()[:-4]):
        with pytest.raises(ForgedPermit):
            gate.permit_from_token(token)
    with pytest.raises(ForgedPermit):
        gate.verify_permit("a permit", phone=NY_PHONE, channel=Channel.VOICE)  # type: ignore[arg-type]


def test_a_batch_counts_its_own_permits_against_frequency_caps(
    container: Container, gate: ComplianceGate, org: OrgFixture
) -> None:
    phone = "+18505550134"  # Florida: at most 3 marketing calls per 24 hours
    record_consent(container, org.id, phone)
    registry_copy(container, org.id, area_codes=("850",))
    registry_copy(container, org.id, area_codes=("850",), list_name="state:FL")
    request = CheckRequest(phone=phone, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING)
    results = gate.check_many(org.id, [request] * 4, requester=DIALER, issue_permits=True)
    assert [r.permit is not None for r in results] == [True, True, True, False]
    assert {c.rule for c in results[3].decision.blocking} == {"FL.frequency_cap"}
    later = CheckRequest(phone=phone, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING,
                         at=NOW + timedelta(hours=2))  # fmt: skip
    [future] = gate.check_many(org.id, [later], requester=DIALER, issue_permits=True)
    assert future.permit is None  # a permit is for now only
