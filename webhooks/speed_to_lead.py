"""Speed-to-lead: a lead that just arrived is called within seconds, when its organization turns this on.

``schedule_first_call`` (in the transaction that created the lead) queues the ``webhooks.speed_to_lead`` job after
the organization's delay. The job asks the compliance gate for a permit to call now; an allowed call takes a seat
under the concurrent-call limit and is placed through Twilio. A lead the gate allows only later (a calling window,
a frequency cap) is asked about again at ``nextAllowedAt``; any other block ends the attempt and publishes
``compliance.blocked``. Every step is a row of ``speed_to_lead_attempts``, shown on the lead.

Organization settings: ``{"speedToLead": {"enabled": true, "delaySeconds": 0}}``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.audit import Requester
from compliance.deps import gate_of
from compliance.events import publish_blocked
from compliance.fact_store import CheckRequest
from compliance.permits import PermitError
from compliance.service import GateResult, GateUnavailable
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.queue import JobQueue
from seiketsu.jobs.registry import JobContext, RetryLater
from seiketsu.leads.models import Lead
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import tenant_session
from telephony.calls import lock_call_admission
from telephony.outbound import (
    AtCapacity,
    CallbackUrls,
    NoOutboundNumber,
    OutboundDialer,
    Placement,
    blocked_reason,
    choose_from_number,
    outbound_numbers,
    record_not_placed,
    record_placed,
    reserve_call,
)
from telephony.outbound_runtime import outbound_runtime
from telephony.rest_clients import job_twilio_client
from telephony.twilio_rest import TwilioError
from webhooks.models import AttemptOutcome, SpeedToLeadAttempt

logger = logging.getLogger(__name__)

SPEED_TO_LEAD_JOB = "webhooks.speed_to_lead"
REQUESTER = Requester.system("speed_to_lead")
CAPACITY_RETRY_SECONDS = 30.0
MAX_DELAY_SECONDS = 24 * 3600
MIN_RETRY = timedelta(seconds=1)
"""A deferred lead is never asked about again sooner than this, whatever the clocks say."""


@dataclass(frozen=True, slots=True)
class SpeedToLeadSettings:
    enabled: bool = False
    delay_seconds: int = 0

    @classmethod
    def of(cls, org_settings: Mapping[str, Any]) -> SpeedToLeadSettings:
        raw = org_settings.get("speedToLead")
        if not isinstance(raw, Mapping):
            return cls()
        delay = raw.get("delaySeconds", 0)
        delay = int(delay) if isinstance(delay, int | float) and not isinstance(delay, bool) else 0
        return cls(enabled=raw.get("enabled") is True, delay_seconds=min(max(0, delay), MAX_DELAY_SECONDS))


def schedule_first_call(session: Session, jobs: JobQueue, *, lead: Lead, org_settings: Mapping[str, Any]) -> bool:
    """Queue the lead's first call if the organization wants one; the caller commits."""
    config = SpeedToLeadSettings.of(org_settings)
    if not config.enabled:
        return False
    delay = timedelta(seconds=config.delay_seconds)
    session.add(
        SpeedToLeadAttempt(lead_id=lead.id, outcome=AttemptOutcome.SCHEDULED, detail=f"call in {config.delay_seconds}s")
    )
    jobs.enqueue(session, SPEED_TO_LEAD_JOB, {"leadId": str(lead.id)}, delay=delay or None)
    return True


def _record(container: Container, organization_id: uuid.UUID, attempt: SpeedToLeadAttempt) -> None:
    with tenant_session(container.sessions, organization_id) as session:
        session.add(attempt)
        session.commit()


def _attempt(result: GateResult, outcome: AttemptOutcome, *, lead_id: uuid.UUID, **fields: Any) -> SpeedToLeadAttempt:
    return SpeedToLeadAttempt(
        lead_id=lead_id,
        outcome=outcome,
        decision_id=result.decision_id,
        allowed=result.allowed,
        next_allowed_at=result.decision.next_allowed_at,
        **fields,
    )


def _blocked(container: Container, organization_id: uuid.UUID, lead: Lead, result: GateResult) -> None:
    reason = blocked_reason(result.decision)
    next_at = result.decision.next_allowed_at
    with tenant_session(container.sessions, organization_id) as session:
        if next_at is not None:
            session.add(_attempt(result, AttemptOutcome.DEFERRED, lead_id=lead.id, detail=reason))
            # The gate's moments are on the dialer's clock (simulated in tests and the benchmark).
            delay = max(MIN_RETRY, next_at - outbound_runtime(container).clock.now())
            container.jobs.enqueue(session, SPEED_TO_LEAD_JOB, {"leadId": str(lead.id)}, delay=delay)
        else:
            session.add(_attempt(result, AttemptOutcome.BLOCKED, lead_id=lead.id, detail=reason))
            publish_blocked(
                container.events,
                session,
                result,
                lead_id=lead.id,
                phone=lead.phone,
                channel=Channel.VOICE,
                purpose=Purpose.MARKETING,
                context="speed_to_lead",
            )
        session.commit()


def _reserve(
    container: Container, organization_id: uuid.UUID, lead: Lead, result: GateResult
) -> Placement | SpeedToLeadAttempt:
    with tenant_session(container.sessions, organization_id) as session:
        org = session.get(Organization, organization_id)
        try:
            from_number = choose_from_number(outbound_numbers(session), lead.phone)
        except NoOutboundNumber as exc:
            return _attempt(result, AttemptOutcome.FAILED, lead_id=lead.id, detail=str(exc))
        lock_call_admission(session, organization_id)
        try:
            call = reserve_call(
                session,
                limit=org.max_concurrent_calls if org else 0,
                lead_id=lead.id,
                to_number=lead.phone,
                from_number=from_number,
                purpose=Purpose.MARKETING.value,
                decision_id=result.decision_id,
                now=utcnow(),
            )
        except AtCapacity as exc:
            raise RetryLater(f"speed-to-lead: {exc}", delay=CAPACITY_RETRY_SECONDS) from exc
        session.commit()
        return Placement(
            call_id=call.id,
            organization_id=organization_id,
            to_number=call.to_number,
            from_number=call.from_number,
            gate_decision_id=str(result.decision_id),
        )


async def _place(container: Container, placement: Placement, result: GateResult) -> str | Exception:
    assert result.permit is not None
    async with job_twilio_client(container.settings, tls=outbound_runtime(container).tls) as twilio:
        if twilio is None:
            return RuntimeError("outbound calls need a Twilio account (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)")
        dialer = OutboundDialer(
            gate=gate_of(container), twilio=twilio, urls=CallbackUrls(container.settings.public_base_url)
        )
        try:
            return await dialer.place(result.permit, placement)
        except (TwilioError, PermitError) as exc:
            return exc


def _placed(
    container: Container, placement: Placement, lead_id: uuid.UUID, result: GateResult, outcome: str | Exception
) -> None:
    with tenant_session(container.sessions, placement.organization_id) as session:
        if isinstance(outcome, Exception):
            record_not_placed(session, placement.call_id, outcome, now=utcnow())
            attempt = _attempt(
                result, AttemptOutcome.FAILED, lead_id=lead_id, call_id=placement.call_id, detail=str(outcome)[:2000]
            )
        else:
            record_placed(session, placement.call_id, outcome)
            attempt = _attempt(result, AttemptOutcome.DIALED, lead_id=lead_id, call_id=placement.call_id)
        session.add(attempt)
        session.commit()


def _lead(container: Container, organization_id: uuid.UUID, lead_id: uuid.UUID) -> Lead | None:
    with tenant_session(container.sessions, organization_id) as session:
        return session.get(Lead, lead_id)


def ask_gate(container: Container, organization_id: uuid.UUID, lead: Lead) -> GateResult:
    request = CheckRequest(
        phone=lead.phone,
        channel=Channel.VOICE,
        voice=VoiceKind.ARTIFICIAL,
        purpose=Purpose.MARKETING,
        lead_id=lead.id,
        state=lead.state,
        postal_code=lead.postal_code,
    )
    try:
        return gate_of(container).check_many(organization_id, [request], requester=REQUESTER, issue_permits=True)[0]
    except GateUnavailable as exc:
        raise RetryLater(
            f"speed-to-lead: the compliance gate is unavailable: {exc}", delay=CAPACITY_RETRY_SECONDS
        ) from exc


async def speed_to_lead_job(context: JobContext) -> None:
    container, org_id = context.container, context.organization_id
    lead = _lead(container, org_id, uuid.UUID(str(context.payload["leadId"])))
    if lead is None:
        return
    result = ask_gate(container, org_id, lead)
    if result.permit is None:
        _blocked(container, org_id, lead, result)
        return
    reserved = _reserve(container, org_id, lead, result)
    if isinstance(reserved, SpeedToLeadAttempt):
        _record(container, org_id, reserved)
        return
    outcome = await _place(container, reserved, result)
    _placed(container, reserved, lead.id, result, outcome)
    if isinstance(outcome, Exception):
        logger.warning("speed-to-lead call %s was not placed: %s", reserved.call_id, outcome)


def attempts_of(session: Session, lead_id: uuid.UUID) -> list[SpeedToLeadAttempt]:
    query = sa.select(SpeedToLeadAttempt).where(col(SpeedToLeadAttempt.lead_id) == lead_id)
    return list(session.scalars(query.order_by(col(SpeedToLeadAttempt.created_at), col(SpeedToLeadAttempt.id))))


def next_moment(attempts: list[SpeedToLeadAttempt]) -> datetime | None:
    """When the lead will be asked about again, if its last step was a deferral."""
    return attempts[-1].next_allowed_at if attempts and attempts[-1].outcome == AttemptOutcome.DEFERRED else None
