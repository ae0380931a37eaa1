"""Twilio's webhooks for calls we placed: ``POST /twilio/voice/outbound`` (the lead answered: TwiML for the call)
and ``POST /twilio/amd`` (the asynchronous answering-machine result). Signatures are checked as for every webhook.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from seiketsu.auth.deps import get_container
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import tenant_session
from telephony import amd, twiml
from telephony.calls import apply_status, find_twilio_call
from telephony.models import CallDirection, CallStatus
from telephony.runtime import EXTRAS_KEY, TelephonyRuntime
from telephony.session_setup import build_setup, call_duties, identity, remember_setup
from telephony.signatures import issue_stream_token
from telephony.twilio_webhooks import (
    STREAM_TOKEN_TTL_SECONDS,
    organization_of_call,
    required_params,
    twilio_params,
    xml,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["twilio"], include_in_schema=False)


def _runtime(container: Container) -> TelephonyRuntime:
    runtime = container.extras[EXTRAS_KEY]
    assert isinstance(runtime, TelephonyRuntime)
    return runtime


@router.post("/voice/outbound")
async def outbound_answered(
    request: Request, params: dict[str, str] = Depends(twilio_params), container: Container = Depends(get_container)
) -> Response:
    (call_sid,) = required_params(params, "CallSid")
    call_id = request.query_params.get("callId")
    document = await run_in_threadpool(_connect, container, _runtime(container), call_sid, call_id)
    return xml(document)


def _connect(container: Container, runtime: TelephonyRuntime, call_sid: str, call_id: str | None) -> str:
    organization_id = organization_of_call(container, call_sid=call_sid, call_id=call_id)
    if organization_id is None:
        logger.warning("TwiML asked for an unknown outbound call %s", call_sid)
        return twiml.hang_up()
    with tenant_session(container.sessions, organization_id) as session:
        call = find_twilio_call(session, call_sid=call_sid, call_id=call_id, lock=True)
        org = session.get(Organization, organization_id)
        if call is None or org is None or call.direction != CallDirection.OUTBOUND or call.outcome is not None:
            logger.warning("TwiML asked for call %s, which is not an outbound call waiting to connect", call_sid)
            return twiml.hang_up()
        apply_status(call, CallStatus.IN_PROGRESS, duration=None, now=utcnow())
        session.commit()
        setup = build_setup(call, org, runtime)
    remember_setup(runtime, setup, now=time.monotonic())
    key = str(setup.context.call_id)
    token = issue_stream_token(container.settings.secret_key, key, ttl=STREAM_TOKEN_TTL_SECONDS, now=time.time())
    return twiml.connect_stream(runtime.stream_url, {"callId": key, "token": token})


@dataclass(frozen=True, slots=True)
class _Answered:
    call_id: uuid.UUID
    call_sid: str
    voicemail: str


@router.post("/amd")
async def answering_machine_result(
    request: Request, params: dict[str, str] = Depends(twilio_params), container: Container = Depends(get_container)
) -> Response:
    call_sid, answered_by = required_params(params, "CallSid", "AnsweredBy")
    call_id = request.query_params.get("callId")
    runtime = _runtime(container)
    answered = await run_in_threadpool(_record_answer, container, runtime, call_sid, call_id, answered_by)
    if answered is None:
        return Response(status_code=204)
    action = amd.amd_action(answered_by)
    logger.info("call %s answered by %s: %s", answered.call_id, answered_by, action)
    if action is amd.AmdAction.VOICEMAIL:
        await amd.leave_voicemail(
            live=runtime.live_calls.get(str(answered.call_id)),
            twilio=runtime.rest,
            call_id=answered.call_id,
            call_sid=answered.call_sid,
            text=answered.voicemail,
        )
    elif action is amd.AmdAction.HANG_UP:
        await amd.hang_up(twilio=runtime.rest, call_id=answered.call_id, call_sid=answered.call_sid)
    return Response(status_code=204)


def _record_answer(
    container: Container, runtime: TelephonyRuntime, call_sid: str, call_id: str | None, answered_by: str
) -> _Answered | None:
    """Store who answered (the first result wins); the outcome follows it when the call is recorded."""
    organization_id = organization_of_call(container, call_sid=call_sid, call_id=call_id)
    if organization_id is None:
        logger.info("answering-machine result for an unknown call %s ignored", call_sid)
        return None
    with tenant_session(container.sessions, organization_id) as session:
        call = find_twilio_call(session, call_sid=call_sid, call_id=call_id, lock=True)
        org = session.get(Organization, organization_id)
        if call is None or org is None or call.answered_by is not None:
            return None
        call.answered_by = answered_by[:32]
        call.updated_at = utcnow()
        session.commit()
        if call.outcome is not None:
            return None  # the call is over already
        duties = call_duties(org, purpose=call.purpose, inbound=False, our_number=call.from_number, runtime=runtime)
        who = identity(org, our_number=call.from_number, runtime=runtime, duties=duties)
        return _Answered(call_id=call.id, call_sid=call_sid, voicemail=amd.voicemail_text(who))
