"""Route: POST /api/v1/voice/sessions (dial one lead now).

The gate is asked first (voice, artificial voice, the given purpose); a block answers 422 with every rule's
verdict and the decision id. An allowed call takes a seat under the organization's concurrent-call limit (429 when
none is free) and is placed through Twilio from one of the organization's outbound numbers.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from compliance.audit import Requester
from compliance.decision import Decision
from compliance.deps import gate_of, requester_of
from compliance.events import publish_blocked
from compliance.fact_store import CheckRequest
from compliance.permits import DialPermit, PermitError
from compliance.service import GateResult, GateUnavailable
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.auth.deps import Principal, get_container, require
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import AppError, FieldError, NotFound, RateLimited, ServiceUnavailable, ValidationFailed
from seiketsu.leads.models import Lead
from seiketsu.schemas import InputModel
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import tenant_session
from telephony.api import CallOut
from telephony.calls import lock_call_admission
from telephony.models import Call
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
    require_twilio_account,
    reserve_call,
)
from telephony.runtime import EXTRAS_KEY, TelephonyRuntime
from telephony.twilio_rest import InvalidPhoneNumber, TwilioError, TwilioRestClient

router = APIRouter(prefix="/api/v1", tags=["voice"])

RETRY_AFTER_SECONDS = 30


class DialBlocked(AppError):
    """The compliance gate refused the call: 422 with its decision."""

    status = 422
    title = "Unprocessable Entity"

    def __init__(self, result: GateResult) -> None:
        super().__init__(f"the compliance gate blocked this call: {blocked_reason(result.decision)}")
        self.result = result

    def extra(self) -> dict[str, Any]:
        return {"decisionId": str(self.result.decision_id), **decision_body(self.result.decision)}


class BadGateway(AppError):
    status = 502
    title = "Bad Gateway"


def decision_body(decision: Decision) -> dict[str, Any]:
    """The gate's verdicts on the wire, as ``POST /api/v1/compliance/check`` shows them."""
    body: dict[str, Any] = {
        "checks": [
            {"rule": c.rule, "result": c.result.value, "citation": c.citation, "detail": c.detail}
            for c in decision.checks
        ],
        "nextAllowedAt": decision.next_allowed_at.isoformat() if decision.next_allowed_at else None,
    }
    return body


class DialIn(InputModel):
    lead_id: uuid.UUID
    purpose: Purpose = Purpose.MARKETING


class _Target:
    def __init__(self, *, lead: Lead, from_number: str, limit: int) -> None:
        self.lead = lead
        self.from_number = from_number
        self.limit = limit


def _target(container: Container, organization_id: uuid.UUID, lead_id: uuid.UUID) -> _Target:
    with tenant_session(container.sessions, organization_id) as session:
        lead = session.get(Lead, lead_id)
        org = session.get(Organization, organization_id)
        if lead is None or org is None:
            raise NotFound("lead not found")
        try:
            from_number = choose_from_number(outbound_numbers(session), lead.phone)
        except NoOutboundNumber as exc:
            raise ValidationFailed([FieldError("body.leadId", str(exc))], detail=str(exc)) from exc
        return _Target(lead=lead, from_number=from_number, limit=org.max_concurrent_calls)


def _reserve(
    container: Container, organization_id: uuid.UUID, target: _Target, purpose: Purpose, decision_id: uuid.UUID
) -> Placement:
    with tenant_session(container.sessions, organization_id) as session:
        lock_call_admission(session, organization_id)
        try:
            call = reserve_call(
                session,
                limit=target.limit,
                lead_id=target.lead.id,
                to_number=target.lead.phone,
                from_number=target.from_number,
                purpose=purpose.value,
                decision_id=decision_id,
                now=utcnow(),
            )
        except AtCapacity as exc:
            raise RateLimited(RETRY_AFTER_SECONDS, f"concurrent-call limit reached: {exc}") from exc
        session.commit()
        return Placement(
            call_id=call.id,
            organization_id=organization_id,
            to_number=call.to_number,
            from_number=call.from_number,
            gate_decision_id=str(decision_id),
        )


def _finish(container: Container, organization_id: uuid.UUID, call_id: uuid.UUID, outcome: str | Exception) -> Call:
    with tenant_session(container.sessions, organization_id) as session:
        if isinstance(outcome, Exception):
            record_not_placed(session, call_id, outcome, now=utcnow())
        else:
            record_placed(session, call_id, outcome)
        session.commit()
        call = session.get(Call, call_id)
        assert call is not None
        return call


async def _place(
    container: Container, twilio: TwilioRestClient, permit: DialPermit, placement: Placement, lead: Lead
) -> Call:
    dialer = OutboundDialer(
        gate=gate_of(container), twilio=twilio, urls=CallbackUrls(container.settings.public_base_url)
    )
    org_id = placement.organization_id
    try:
        sid = await dialer.place(permit, placement)
    except InvalidPhoneNumber as exc:
        await run_in_threadpool(_finish, container, org_id, placement.call_id, exc)
        message = f"Twilio cannot call the lead's phone number {lead.phone}: {exc}"
        raise ValidationFailed([FieldError("body.leadId", message)], detail=message) from exc
    except TwilioError as exc:
        await run_in_threadpool(_finish, container, org_id, placement.call_id, exc)
        if exc.retryable:
            raise ServiceUnavailable(f"Twilio is unavailable; try again shortly ({exc})") from exc
        raise BadGateway(f"Twilio refused the call: {exc}") from exc
    except PermitError as exc:
        await run_in_threadpool(_finish, container, org_id, placement.call_id, exc)
        raise ServiceUnavailable(f"the call's permit was refused: {exc}") from exc
    return await run_in_threadpool(_finish, container, org_id, placement.call_id, sid)


def _publish_blocked(
    container: Container, organization_id: uuid.UUID, lead: Lead, purpose: Purpose, result: GateResult
) -> None:
    with tenant_session(container.sessions, organization_id) as session:
        publish_blocked(
            container.events,
            session,
            result,
            lead_id=lead.id,
            phone=lead.phone,
            channel=Channel.VOICE,
            purpose=purpose,
            context="dial",
        )
        session.commit()


def _ask_gate(container: Container, principal: Principal, lead: Lead, purpose: Purpose) -> GateResult:
    request = CheckRequest(
        phone=lead.phone, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=purpose, lead_id=lead.id
    )
    requester: Requester = requester_of(principal)
    try:
        return gate_of(container).check_many(
            principal.organization_id, [request], requester=requester, issue_permits=True
        )[0]
    except GateUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc


@router.post("/voice/sessions", response_model=CallOut, status_code=201)
async def dial_lead(
    body: DialIn,
    principal: Principal = Depends(require(Permission.VOICE_MANAGE)),
    container: Container = Depends(get_container),
) -> Call:
    """Call a lead now, if the compliance gate allows it."""
    runtime = container.extras[EXTRAS_KEY]
    assert isinstance(runtime, TelephonyRuntime)
    require_twilio_account(container.settings)
    assert runtime.rest is not None  # built whenever the account is configured
    org_id = principal.organization_id
    target = await run_in_threadpool(_target, container, org_id, body.lead_id)
    result = await run_in_threadpool(_ask_gate, container, principal, target.lead, body.purpose)
    if result.permit is None:
        await run_in_threadpool(_publish_blocked, container, org_id, target.lead, body.purpose, result)
        raise DialBlocked(result)
    placement = await run_in_threadpool(_reserve, container, org_id, target, body.purpose, result.decision_id)
    return await _place(container, runtime.rest, result.permit, placement, target.lead)
