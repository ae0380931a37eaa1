"""Twilio's HTTP webhooks for voice: ``POST /twilio/voice`` (a call rings in), ``POST /twilio/status``.

Calls we placed carry ``?callId=`` in their callback URLs (see ``telephony.outbound``), so a status that arrives
before the call's sid was stored still finds its call.

Every request must carry a valid ``X-Twilio-Signature`` computed over ``PUBLIC_BASE_URL`` + path; anything
else is answered 403 before it is read further.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from seiketsu.auth.deps import get_container
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import FieldError, Forbidden, ValidationFailed
from seiketsu.phones import InvalidPhoneNumber, normalize_phone
from seiketsu.tenancy.models import NumberPurpose, Organization, PhoneNumber
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony import twiml
from telephony.calls import (
    active_calls,
    apply_status,
    find_twilio_call,
    lock_call_admission,
    record_result,
    start_inbound_call,
)
from telephony.models import Call, CallStatus
from telephony.runtime import TelephonyRuntime, telephony_runtime
from telephony.session_setup import build_setup, remember_setup
from telephony.signatures import issue_stream_token

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["twilio"], include_in_schema=False)

STREAM_TOKEN_TTL_SECONDS = 60.0
UNKNOWN_NUMBER = "Sorry, this number is not in service. Goodbye."
OVER_CAPACITY = (
    "Thank you for calling {business}. All of our assistants are helping other callers right now. "
    "Please call back in a few minutes. Goodbye."
)


def xml(document: str) -> Response:
    return Response(content=document, media_type="application/xml")


async def twilio_params(request: Request) -> dict[str, str]:
    """The form fields of a Twilio webhook, after its signature has been checked."""
    runtime = telephony_runtime(request.app)
    form = await request.form()
    pairs = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    valid = runtime.validator.is_valid(
        path=request.url.path,
        params=pairs,
        signature=request.headers.get("x-twilio-signature"),
        query_string=request.url.query,
    )
    if not valid:
        logger.warning("rejected a Twilio webhook with a missing or invalid signature on %s", request.url.path)
        raise Forbidden("invalid or missing X-Twilio-Signature")
    return dict(pairs)


def required_params(params: Mapping[str, str], *names: str) -> list[str]:
    missing = [FieldError(f"form.{name}", "required") for name in names if not params.get(name)]
    if missing:
        raise ValidationFailed(missing)
    return [params[name] for name in names]


def _phone_or_none(raw: str) -> str | None:
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber:
        return None


@router.post("/voice")
async def inbound_call(
    params: dict[str, str] = Depends(twilio_params), container: Container = Depends(get_container)
) -> Response:
    call_sid, raw_from, raw_to = required_params(params, "CallSid", "From", "To")
    runtime = container.extras["telephony"]
    document = await run_in_threadpool(_answer, container, runtime, call_sid, raw_from, raw_to)
    return xml(document)


def _answer(container: Container, runtime: TelephonyRuntime, call_sid: str, raw_from: str, raw_to: str) -> str:
    called = _phone_or_none(raw_to)
    with system_session(container.sessions) as session:
        row = session.execute(
            sa.select(PhoneNumber, Organization)
            .join(Organization, col(Organization.id) == col(PhoneNumber.organization_id))
            .where(col(PhoneNumber.e164) == called, col(PhoneNumber.purpose) != NumberPurpose.OUTBOUND)
        ).one_or_none()
    if called is None or row is None or not row[1].is_active:
        logger.info("call %s to a number we do not answer", call_sid)
        return twiml.say_and_hang_up(UNKNOWN_NUMBER)
    org = row[1]
    caller = _phone_or_none(raw_from) or "anonymous"
    with tenant_session(container.sessions, org.id) as session:
        lock_call_admission(session, org.id)
        call = session.scalars(sa.select(Call).where(col(Call.call_sid) == call_sid)).one_or_none()
        if call is None:
            over_capacity = active_calls(session, now=utcnow()) >= org.max_concurrent_calls
            call = start_inbound_call(session, container.events, call_sid=call_sid, caller=caller, called=called)
            if over_capacity:
                call.status = CallStatus.COMPLETED
                call.provider_failures = ["over the organization's concurrent-call limit"]
                record_result(session, container.events, call=call, result=None)
                session.commit()
                logger.warning("call %s refused: organization %s is at its concurrent-call limit", call.id, org.slug)
                return twiml.say_and_hang_up(OVER_CAPACITY.format(business=runtime.business_name(org)))
        session.commit()
        call_id = str(call.id)
        remember_setup(runtime, build_setup(call, org, runtime), now=time.monotonic())
    token = issue_stream_token(container.settings.secret_key, call_id, ttl=STREAM_TOKEN_TTL_SECONDS, now=time.time())
    return twiml.connect_stream(runtime.stream_url, {"callId": call_id, "token": token})


@router.post("/status")
async def call_status(
    request: Request, params: dict[str, str] = Depends(twilio_params), container: Container = Depends(get_container)
) -> Response:
    call_sid, raw_status = required_params(params, "CallSid", "CallStatus")
    try:
        status = CallStatus(raw_status)
    except ValueError as exc:
        raise ValidationFailed([FieldError("form.CallStatus", f"unknown status {raw_status!r}")]) from exc
    duration = params.get("CallDuration")
    seconds = int(duration) if duration and duration.isdigit() else None
    call_id = request.query_params.get("callId")
    await run_in_threadpool(_apply_status, container, call_sid, call_id, status, seconds)
    return Response(status_code=204)


def organization_of_call(container: Container, *, call_sid: str, call_id: str | None) -> uuid.UUID | None:
    """The organization of the call Twilio names (by sid, or by our ``callId``), for a scoped session."""
    conditions = [col(Call.call_sid) == call_sid]
    try:
        if call_id:
            conditions.append(col(Call.id) == uuid.UUID(call_id))
    except ValueError:
        pass
    with system_session(container.sessions) as session:
        found = session.scalars(sa.select(col(Call.organization_id)).where(sa.or_(*conditions))).first()
    return found


def _apply_status(
    container: Container, call_sid: str, call_id: str | None, status: CallStatus, duration: int | None
) -> None:
    organization_id = organization_of_call(container, call_sid=call_sid, call_id=call_id)
    if organization_id is None:
        logger.info("status %s for an unknown call %s ignored", status, call_sid)
        return
    with tenant_session(container.sessions, organization_id) as session:
        call = find_twilio_call(session, call_sid=call_sid, call_id=call_id, lock=True)
        if call is None:
            logger.info("status %s for an unknown call %s ignored", status, call_sid)
            return
        apply_status(call, status, duration=duration, now=utcnow())
        if status.is_final and call.stream_started_at is None:
            # The call never reached the agent (busy, no answer, failed, hung up while ringing).
            record_result(session, container.events, call=call, result=None)
        session.commit()
