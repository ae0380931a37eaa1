"""Sending texts. Every outbound text is a row first (``SmsMessage``, pending), queued with its send job in the
transaction that decided to send it; the job asks the compliance gate (channel SMS) and hands the permit to
``SmsSender``, which accepts nothing else. Twilio reports delivery on ``POST /twilio/sms/status``.

Delivery is at most once: a job that finds its text already past "pending" does nothing, and a request whose
answer was lost is not repeated (the text is marked failed with the reason) rather than risk a duplicate text.
A text blocked only by quiet hours waits for the gate's ``nextAllowedAt``, except an opt-out confirmation, which
is allowed within its 5 minutes or never.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.audit import Requester
from compliance.deps import gate_of
from compliance.fact_store import CheckRequest
from compliance.internal_dnc import record_do_not_call
from compliance.permits import DialPermit, PermitError, PermitMismatch
from compliance.service import GateResult, GateUnavailable
from compliance.vocabulary import Channel, Purpose
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.queue import JobQueue
from seiketsu.jobs.registry import JobContext, RetryLater
from seiketsu.phones import mask_phone
from seiketsu.tenancy.scoping import tenant_session
from telephony.outbound import PermitVerifier, blocked_reason
from telephony.outbound_runtime import outbound_runtime
from telephony.rest_clients import job_twilio_client
from telephony.sms_models import SmsDirection, SmsKind, SmsMessage, SmsStatus
from telephony.twilio_rest import TwilioApiError, TwilioError, TwilioUnavailable, UnsubscribedRecipient

logger = logging.getLogger(__name__)

SEND_JOB = "telephony.sms.send"
STATUS_PATH = "/twilio/sms/status"
RETRY_SECONDS = 30.0


class MessageSender(Protocol):
    """Twilio's Messages resource (``telephony.twilio_rest.TwilioRestClient``)."""

    async def send_sms(self, *, to: str, from_: str, body: str, status_callback: str | None = None) -> str: ...


class SmsSender:
    """Sends one text on one permit; the status callback names our message (``?messageId=``)."""

    def __init__(self, *, gate: PermitVerifier, twilio: MessageSender, public_base_url: str) -> None:
        self._gate = gate
        self._twilio = twilio
        self._status_url = public_base_url.rstrip("/") + STATUS_PATH

    async def send(
        self, permit: DialPermit, *, message_id: uuid.UUID, organization_id: uuid.UUID, to: str, from_: str, body: str
    ) -> str:
        """Returns the Message SID. Raises PermitError, TwilioError."""
        self._gate.verify_permit(permit, phone=to, channel=Channel.SMS)
        if permit.organization_id != organization_id:
            raise PermitMismatch("the permit was issued for another organization")
        callback = f"{self._status_url}?{urlencode({'messageId': str(message_id)})}"
        return await self._twilio.send_sms(to=to, from_=from_, body=body, status_callback=callback)


def queue_text(
    session: Session,
    jobs: JobQueue,
    *,
    kind: SmsKind,
    to_number: str,
    from_number: str,
    body: str,
    purpose: Purpose,
    lead_id: uuid.UUID | None = None,
    call_id: uuid.UUID | None = None,
    opt_out_confirmation: bool = False,
    send_by: datetime | None = None,
) -> SmsMessage:
    """Add an outbound text and its send job to the session's transaction (the caller commits)."""
    message = SmsMessage(
        direction=SmsDirection.OUTBOUND,
        kind=kind,
        lead_id=lead_id,
        call_id=call_id,
        from_number=from_number,
        to_number=to_number,
        body=body,
        status=SmsStatus.PENDING,
        purpose=purpose.value,
        opt_out_confirmation=opt_out_confirmation,
        send_by=send_by,
    )
    session.add(message)
    session.flush()
    jobs.enqueue(session, SEND_JOB, {"messageId": str(message.id)})
    return message


@dataclass(frozen=True, slots=True)
class _Pending:
    id: uuid.UUID
    organization_id: uuid.UUID
    to_number: str
    from_number: str
    body: str
    purpose: Purpose
    lead_id: uuid.UUID | None
    opt_out_confirmation: bool
    send_by: datetime | None


async def send_job(context: JobContext) -> None:
    """The send job: the gate's permit, then Twilio."""
    container = context.container
    org_id = context.organization_id
    message_id = uuid.UUID(str(context.payload["messageId"]))
    now = outbound_runtime(container).clock.now()
    pending = _load(container, org_id, message_id, now=now)
    if pending is None:
        return
    result = _ask_gate(container, pending)
    if result.permit is None:
        _not_allowed(container, pending, result, now=now)
        return
    if not _update(container, pending, SmsStatus.SENDING, {"gate_decision_id": str(result.decision_id)}):
        return
    async with job_twilio_client(container.settings, tls=outbound_runtime(container).tls) as twilio:
        if twilio is None:
            _update(container, pending, SmsStatus.FAILED, {"error_message": "no Twilio account is configured"})
            return
        sender = SmsSender(gate=gate_of(container), twilio=twilio, public_base_url=container.settings.public_base_url)
        try:
            sid = await sender.send(
                result.permit,
                message_id=pending.id,
                organization_id=org_id,
                to=pending.to_number,
                from_=pending.from_number,
                body=pending.body,
            )
        except (TwilioError, PermitError) as exc:
            _send_failed(container, pending, exc)
            return
    _update(container, pending, SmsStatus.QUEUED, {"message_sid": sid})
    logger.info("text %s to %s sent: %s", pending.id, mask_phone(pending.to_number), sid)


def _load(container: Container, org_id: uuid.UUID, message_id: uuid.UUID, *, now: datetime) -> _Pending | None:
    with tenant_session(container.sessions, org_id) as session:
        message = session.get(SmsMessage, message_id)
        if message is None or message.status != SmsStatus.PENDING:
            return None
        if message.send_by is not None and now > message.send_by:
            message.status = SmsStatus.CANCELED
            message.error_message = "not sent: its time to be sent had passed"
            message.updated_at = utcnow()
            session.commit()
            return None
        return _Pending(
            id=message.id,
            organization_id=org_id,
            to_number=message.to_number,
            from_number=message.from_number,
            body=message.body,
            purpose=Purpose(message.purpose or Purpose.MARKETING),
            lead_id=message.lead_id,
            opt_out_confirmation=message.opt_out_confirmation,
            send_by=message.send_by,
        )


def _ask_gate(container: Container, pending: _Pending) -> GateResult:
    request = CheckRequest(
        phone=pending.to_number,
        channel=Channel.SMS,
        purpose=pending.purpose,
        lead_id=pending.lead_id,
        opt_out_confirmation=pending.opt_out_confirmation,
    )
    try:
        return gate_of(container).check_many(
            pending.organization_id, [request], requester=Requester.system("sms"), issue_permits=True
        )[0]
    except GateUnavailable as exc:
        raise RetryLater(f"compliance gate unavailable: {exc}", delay=RETRY_SECONDS) from exc


def _not_allowed(container: Container, pending: _Pending, result: GateResult, *, now: datetime) -> None:
    decision = result.decision
    later = decision.next_allowed_at
    if later is not None and not pending.opt_out_confirmation:
        # Only time blocks (quiet hours): the same text goes at the next allowed moment.
        note = f"waiting for {later.isoformat()}: {blocked_reason(decision)}"
        with tenant_session(container.sessions, pending.organization_id) as session:
            message = session.get(SmsMessage, pending.id)
            if message is None or message.status != SmsStatus.PENDING:
                return
            message.gate_decision_id = str(result.decision_id)
            message.error_message = note[:500]
            message.updated_at = utcnow()
            container.jobs.enqueue(
                session, SEND_JOB, {"messageId": str(pending.id)}, delay=max(timedelta(seconds=1), later - now)
            )
            session.commit()
        return
    _update(
        container,
        pending,
        SmsStatus.BLOCKED,
        {"gate_decision_id": str(result.decision_id), "error_message": blocked_reason(decision)[:500]},
    )
    logger.info("text %s to %s blocked by the gate", pending.id, mask_phone(pending.to_number))


def _send_failed(container: Container, pending: _Pending, exc: Exception) -> None:
    code = exc.code if isinstance(exc, TwilioError) else None
    if isinstance(exc, TwilioUnavailable) and not exc.request_sent:
        _update(container, pending, SmsStatus.PENDING, {"error_message": str(exc)[:500]}, expect=SmsStatus.SENDING)
        raise RetryLater(f"Twilio unreachable: {exc}", delay=RETRY_SECONDS) from exc
    if isinstance(exc, TwilioApiError) and exc.retryable:
        _update(container, pending, SmsStatus.PENDING, {"error_message": str(exc)[:500]}, expect=SmsStatus.SENDING)
        raise RetryLater(f"Twilio refused for now: {exc}", delay=RETRY_SECONDS) from exc
    if isinstance(exc, TwilioUnavailable):
        reason = f"unknown whether Twilio took it, so it is not sent again: {exc}"
    else:
        reason = str(exc)
    _update(container, pending, SmsStatus.FAILED, {"error_code": code, "error_message": reason[:500]})
    logger.warning("text %s to %s failed: %s", pending.id, mask_phone(pending.to_number), reason)
    if isinstance(exc, UnsubscribedRecipient):
        # The carrier says this person texted STOP: honour it everywhere, not only on this number.
        with tenant_session(container.sessions, pending.organization_id) as session:
            record_do_not_call(
                session,
                phone=pending.to_number,
                source="sms",
                requested_at=outbound_runtime(container).clock.now(),
                note="Twilio 21610: the recipient has unsubscribed (replied STOP)",
                recorded_by="system:sms",
            )
            session.commit()


def _update(
    container: Container,
    pending: _Pending,
    status: SmsStatus,
    values: dict[str, Any],
    *,
    expect: SmsStatus | None = None,
) -> bool:
    """Move the text to ``status`` if it is still where this job left it; False when another run moved it."""
    current = expect or (SmsStatus.PENDING if status in (SmsStatus.SENDING, SmsStatus.BLOCKED) else SmsStatus.SENDING)
    with tenant_session(container.sessions, pending.organization_id) as session:
        result = session.execute(
            sa.update(SmsMessage)
            .where(col(SmsMessage.id) == pending.id, col(SmsMessage.status) == current)
            .values(status=status, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return cast(sa.CursorResult[Any], result).rowcount == 1


def apply_delivery_status(
    session: Session, *, message_sid: str, message_id: str | None, status: str, error_code: int | None, now: datetime
) -> bool:
    """Twilio's delivery report: statuses move forward only; returns whether the text was found."""
    try:
        new = SmsStatus(status)
    except ValueError:
        logger.info("text %s: unknown delivery status %r ignored", message_sid, status)
        return False
    message = session.scalars(
        sa.select(SmsMessage).where(col(SmsMessage.message_sid) == message_sid).with_for_update()
    ).one_or_none()
    if message is None and message_id:
        try:
            message = session.get(SmsMessage, uuid.UUID(message_id), with_for_update=True)
        except ValueError:
            message = None
        if message is not None and message.message_sid not in (None, message_sid):
            message = None
    if message is None or message.direction != SmsDirection.OUTBOUND:
        return False
    message.message_sid = message_sid
    if new.rank >= SmsStatus(message.status).rank:
        message.status = new
    if error_code is not None:
        message.error_code = error_code
    message.updated_at = now
    return True
