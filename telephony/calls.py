"""Call records: starting a call, following Twilio's status, and storing what the call left behind."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.records import CallResult
from seiketsu.db import new_id, table_of, utcnow
from seiketsu.events import EventBus
from seiketsu.leads import service as leads
from seiketsu.leads.events import LEAD_QUALIFIED, lead_payload
from seiketsu.leads.models import Appointment, Lead, LeadStatus
from seiketsu.phones import mask_phone
from seiketsu.schemas import camel_keys
from telephony.models import Call, CallDirection, CallOutcome, CallStatus, TranscriptLine

logger = logging.getLogger(__name__)

CALL_COMPLETED = "call.completed"
CALL_STARTED = "call.started"
STALE_CALL_AFTER = timedelta(hours=4)
"""A call with no final status after this long no longer counts against the concurrency limit."""

_LEAD_STATUS_BY_OUTCOME = {
    CallOutcome.APPOINTMENT_SET: LeadStatus.APPOINTMENT_SET,
    CallOutcome.QUALIFIED: LeadStatus.QUALIFIED,
    CallOutcome.TRANSFERRED: LeadStatus.QUALIFIED,
    CallOutcome.NOT_INTERESTED: LeadStatus.LOST,
    CallOutcome.OPTED_OUT: LeadStatus.LOST,
}


def lock_call_admission(session: Session, organization_id: uuid.UUID) -> None:
    """Serialise the start of an organization's calls (inbound and outbound) until the transaction ends, so that
    counting ``active_calls`` and adding a call cannot overrun the concurrency limit. SQLite serialises writers."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(str(organization_id)))))


def active_calls(session: Session, *, now: datetime) -> int:
    """Calls of the session's organization that are ringing or live, inbound and outbound together."""
    query = (
        sa.select(sa.func.count())
        .select_from(Call)
        .where(col(Call.ended_at).is_(None), col(Call.created_at) > now - STALE_CALL_AFTER)
        .where(col(Call.status).not_in([s for s in CallStatus if s.is_final]))
    )
    return int(session.scalar(query) or 0)


def start_inbound_call(session: Session, events: EventBus, *, call_sid: str, caller: str, called: str) -> Call:
    """Record a call that is ringing in, matched to the caller's lead or creating it (``lead.created``)."""
    lead = leads.find_by_phone(session, caller) or leads.create_lead(
        session, events, phone=caller, source="inbound_call"
    )
    now = utcnow()
    call = Call(
        call_sid=call_sid,
        direction=CallDirection.INBOUND,
        from_number=caller,
        to_number=called,
        lead_id=lead.id,
        status=CallStatus.RINGING,
        started_at=now,
    )
    session.add(call)
    session.flush()
    logger.info("inbound call %s from %s", call.id, mask_phone(caller))
    return call


def apply_status(call: Call, status: CallStatus, *, duration: int | None, now: datetime) -> bool:
    """Move the call forward to ``status`` (never backwards); returns whether anything changed."""
    current = CallStatus(call.status)
    if status.rank < current.rank or (current.is_final and status != current):
        return False
    changed = status != current
    call.status = status
    if status is CallStatus.IN_PROGRESS and call.answered_at is None:
        call.answered_at = now
        changed = True
    if status.is_final:
        if duration is not None and call.duration_seconds != duration:
            call.duration_seconds = duration
            changed = True
        if call.ended_at is None:
            call.ended_at = now
            changed = True
    if changed:
        call.updated_at = now
    return changed


MACHINE_ANSWERS = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})
"""Answering-machine detection results after which the agent leaves a voicemail (``DetectMessageEnd``)."""


def _outcome_for_answer(answered_by: str | None) -> CallOutcome | None:
    """What answering-machine detection decides about the outcome, whatever the agent's session concluded."""
    if answered_by in MACHINE_ANSWERS:
        return CallOutcome.VOICEMAIL
    if answered_by == "fax":
        return CallOutcome.FAILED
    return None


def _outcome_for_status(status: CallStatus) -> CallOutcome:
    if status in (CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.CANCELED):
        return CallOutcome.NO_ANSWER
    return CallOutcome.FAILED


def record_result(session: Session, events: EventBus, *, call: Call, result: CallResult | None) -> bool:
    """Store a finished call in the caller's transaction and publish ``call.completed``, exactly once.

    ``result`` is the agent's account of the call; None when the call ended without reaching the agent
    (busy, no answer, failed), in which case the outcome follows Twilio's status.
    """
    if call.outcome is not None:
        return False
    now = utcnow()
    by_answer = _outcome_for_answer(call.answered_by)
    if result is None:
        call.outcome = by_answer or _outcome_for_status(CallStatus(call.status))
    else:
        call.outcome = by_answer or CallOutcome(result.outcome)
        call.qualification = result.qualification.as_dict()
        if result.message is not None:
            call.qualification["callback_message"] = result.message
        call.latencies = [turn.as_dict() for turn in result.turns]
        call.provider_failures = list(result.provider_failures)
        if call.duration_seconds is None:
            call.duration_seconds = round(result.duration_ms / 1000)
    call.ended_at = call.ended_at or now
    call.updated_at = now
    if result is not None:  # after the call's own changes: the flush before the insert then writes the call once
        _insert_transcript(session, call, result)
    payload = completed_payload(call, summary=summarize(result))
    if call.lead_id is not None:
        _update_lead(session, events, call, result)
        payload["appointmentId"] = _appointment_id(session, call)
    events.publish(session, CALL_COMPLETED, payload)
    return True


def _insert_transcript(session: Session, call: Call, result: CallResult) -> None:
    """The call's lines in one multi-row ``INSERT``, stamped with the organization of the call (which the caller's
    scoped session loaded). As mapped objects, nine lines cost 2.0-2.5 ms of CPU against 0.9 ms, about half of
    storing a call, on the web process's one GIL that the loop serving the other live calls waits for."""
    if not result.transcript:
        return
    rows = [
        {
            "id": new_id(),
            "organization_id": call.organization_id,
            "call_id": call.id,
            "seq": seq,
            "speaker": entry.speaker,
            "text": entry.text,
            "start_ms": entry.start_ms,
            "end_ms": entry.end_ms,
            "interrupted": entry.interrupted,
        }
        for seq, entry in enumerate(result.transcript)
    ]
    session.execute(sa.insert(table_of(TranscriptLine)), rows)


def _appointment_id(session: Session, call: Call) -> str | None:
    query = (
        sa.select(col(Appointment.id))
        .where(col(Appointment.call_id) == call.id)
        .order_by(col(Appointment.created_at).desc())
    )
    found = session.scalars(query).first()
    return str(found) if found else None


def _update_lead(session: Session, events: EventBus, call: Call, result: CallResult | None) -> None:
    lead = session.get(Lead, call.lead_id)
    if lead is None:
        return
    changes: dict[str, Any] = {}
    if result is not None:
        learned = result.qualification.as_dict()
        name = learned.pop("name", None)
        email = learned.pop("email", None)
        if learned:
            changes["qualification"] = {**lead.qualification, **learned}
        if name and not (lead.first_name or lead.last_name):
            first, _, last = str(name).partition(" ")
            changes["first_name"], changes["last_name"] = first[:100], last[:100]
        if email and not lead.email:
            changes["email"] = email
    status = _LEAD_STATUS_BY_OUTCOME.get(CallOutcome(call.outcome)) if call.outcome else None
    if status is not None:
        changes["status"] = status
    elif lead.status == LeadStatus.NEW:
        changes["status"] = LeadStatus.CONTACTED
    if changes:
        was = lead.status
        leads.update_lead(session, lead, changes)
        if lead.status == LeadStatus.QUALIFIED and was != LeadStatus.QUALIFIED:
            events.publish(session, LEAD_QUALIFIED, {**lead_payload(lead), "callId": str(call.id)})


def completed_payload(call: Call, *, summary: str = "") -> dict[str, Any]:
    """The ``call.started`` / ``call.completed`` event: a self-contained snapshot of the call, so that its
    consumers (CRM delivery, outbound webhooks, follow-up texts) need nothing from this package."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "callId": str(call.id),
        "callSid": call.call_sid,
        "leadId": str(call.lead_id) if call.lead_id else None,
        "direction": str(call.direction),
        "fromNumber": call.from_number,
        "toNumber": call.to_number,
        "status": str(call.status),
        "outcome": str(call.outcome) if call.outcome else None,
        "purpose": call.purpose,
        "durationSeconds": call.duration_seconds,
        "startedAt": iso(call.started_at),
        "answeredAt": iso(call.answered_at),
        "endedAt": iso(call.ended_at),
        "qualification": camel_keys(call.qualification),
        "summary": summary,
        "appointmentId": None,
        "recordingUrl": None,
    }


def summarize(result: CallResult | None, *, limit: int = 4000) -> str:
    """A plain-text account of the call for a CRM note: the transcript, speaker by speaker."""
    if result is None or not result.transcript:
        return ""
    lines = [f"{'Agent' if entry.speaker == 'agent' else 'Caller'}: {entry.text}" for entry in result.transcript]
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def get_call(session: Session, call_id: uuid.UUID) -> Call | None:
    return session.get(Call, call_id)


def find_twilio_call(session: Session, *, call_sid: str, call_id: str | None, lock: bool = False) -> Call | None:
    """The call Twilio names by ``call_sid``, or, for a call we placed whose sid is not stored yet, by the
    ``callId`` our callback URLs carry (the sid is then recorded). A ``callId`` whose call has another sid is
    ignored."""
    query = sa.select(Call).where(col(Call.call_sid) == call_sid)
    call = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if call is not None or not call_id:
        return call
    try:
        wanted = uuid.UUID(call_id)
    except ValueError:
        return None
    call = session.get(Call, wanted, with_for_update=lock)
    if call is None or call.direction != CallDirection.OUTBOUND or call.call_sid not in (None, call_sid):
        return None
    call.call_sid = call_sid
    return call
