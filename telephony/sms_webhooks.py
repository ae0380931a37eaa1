"""Twilio's messaging webhooks: ``POST /twilio/sms`` (a text came in) and ``POST /twilio/sms/status`` (delivery).

An inbound text is applied to consent first (``compliance.sms_replies.record_sms_reply``) and stored on the
lead's conversation, then answered by the rules below; the webhook itself always answers with empty TwiML, and
any reply goes out through the gate and the send job like every other text.

- Opt-out (STOP and the other keywords, or free text meaning stop): the number goes on the internal Do-Not-Call
  list and its SMS consent is revoked. Twilio's own keyword handling already confirms a single-word opt-out keyword
  (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT) and blocks later texts to the number, so we send
  nothing then; anything else ("stop texting me", "STOP please", "opt out") Twilio does not catch, and we send one
  confirmation without marketing, within the 5 minutes the rule allows, asked of the gate as such.
- START, UNSTOP, YES: a re-subscription; Twilio confirms its single-word keywords, we add nothing.
- HELP, INFO: the organization's help text (``settings["smsHelpText"]``, or a default naming the business and
  its callback number).
- Anything else: stored, and published as ``sms.received`` for the brokerage's webhooks.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from compliance.errors import InvalidPhoneNumberError
from compliance.sms_keywords import SmsIntent
from compliance.sms_replies import SmsReplyOutcome, record_sms_reply
from compliance.vocabulary import Purpose
from seiketsu.auth.deps import get_container
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.leads import service as leads
from seiketsu.phones import InvalidPhoneNumber, mask_phone, normalize_phone
from seiketsu.tenancy.models import Organization, PhoneNumber
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony import twiml
from telephony.outbound_runtime import outbound_runtime
from telephony.sms import apply_delivery_status, queue_text
from telephony.sms_models import SmsDirection, SmsKind, SmsMessage, SmsStatus
from telephony.twilio_webhooks import required_params, twilio_params, xml

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["twilio"], include_in_schema=False)

SMS_RECEIVED = "sms.received"
TWILIO_OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
"""Twilio's default opt-out keywords: as a whole message it confirms them itself."""
OPT_OUT_CONFIRMATION = (
    "{business}: you're unsubscribed and will get no more calls or texts from us. Reply START to resubscribe."
)
DEFAULT_HELP = "{business}: for help, call us at {callback}. Reply STOP to opt out."


def twilio_confirms(text: str) -> bool:
    """Whether Twilio's own keyword handling answered this opt-out (a single keyword, any case and spacing)."""
    return re.sub(r"[^a-z]", "", text.lower()) in TWILIO_OPT_OUT_KEYWORDS and len(text.split()) == 1


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def business_name(org: Organization) -> str:
    settings = org.settings
    compliance = settings.get("compliance")
    section: Mapping[str, Any] = compliance if isinstance(compliance, Mapping) else {}
    return _text(section.get("businessName")) or _text(settings.get("businessName")) or org.name


def help_text(org: Organization, *, our_number: str) -> str:
    configured = _text(org.settings.get("smsHelpText"))
    if configured:
        return configured[:1600]
    callback = _text(org.settings.get("callbackNumber")) or our_number
    return DEFAULT_HELP.format(business=business_name(org), callback=callback)


@router.post("/sms")
async def inbound_text(
    params: dict[str, str] = Depends(twilio_params), container: Container = Depends(get_container)
) -> Response:
    message_sid, sender, receiver = required_params(params, "MessageSid", "From", "To")
    await run_in_threadpool(_receive, container, message_sid, sender, receiver, params.get("Body", ""))
    return xml(twiml.sms_reply())


def _organization_by_number(container: Container, number: str) -> Organization | None:
    with system_session(container.sessions) as session:
        return session.scalars(
            sa.select(Organization)
            .join(PhoneNumber, col(PhoneNumber.organization_id) == col(Organization.id))
            .where(col(PhoneNumber.e164) == number, col(Organization.is_active).is_(True))
        ).one_or_none()


def _receive(container: Container, message_sid: str, sender: str, receiver: str, body: str) -> None:
    try:
        phone, our_number = normalize_phone(sender), normalize_phone(receiver)
    except InvalidPhoneNumber:
        logger.info("text %s from or to an invalid number ignored", message_sid)
        return
    org = _organization_by_number(container, our_number)
    if org is None:
        logger.info("text %s to a number we do not serve ignored", message_sid)
        return
    now = outbound_runtime(container).clock.now()
    with tenant_session(container.sessions, org.id) as session:
        seen = session.scalars(sa.select(col(SmsMessage.id)).where(col(SmsMessage.message_sid) == message_sid))
        if seen.first() is not None:
            return  # Twilio retried a webhook we already handled
        try:
            outcome = record_sms_reply(session, phone=phone, text=body, at=now)
        except InvalidPhoneNumberError:
            logger.info("text %s from %s: not a number the gate knows", message_sid, mask_phone(phone))
            return
        lead = leads.find_by_phone(session, phone)
        if lead is None and outcome.intent is SmsIntent.OTHER:
            lead = leads.create_lead(session, container.events, phone=phone, source="inbound_sms")
        received = SmsMessage(
            message_sid=message_sid,
            direction=SmsDirection.INBOUND,
            kind=SmsKind.INBOUND,
            lead_id=lead.id if lead else None,
            from_number=phone,
            to_number=our_number,
            body=body[:1600],
            status=SmsStatus.RECEIVED,
            intent=outcome.intent.value,
        )
        session.add(received)
        session.flush()
        _respond(container, session, org, outcome, received=received, text=body)
        session.commit()
    logger.info("text %s from %s: %s (%s)", message_sid, mask_phone(phone), outcome.intent, outcome.reason)


def _respond(
    container: Container,
    session: Session,
    org: Organization,
    outcome: SmsReplyOutcome,
    *,
    received: SmsMessage,
    text: str,
) -> None:
    reply: tuple[SmsKind, str] | None = None
    if outcome.intent is SmsIntent.OPT_OUT and outcome.may_confirm and not twilio_confirms(text):
        reply = (SmsKind.OPT_OUT_CONFIRMATION, OPT_OUT_CONFIRMATION.format(business=business_name(org)))
    elif outcome.intent is SmsIntent.HELP:
        reply = (SmsKind.HELP, help_text(org, our_number=received.to_number))
    elif outcome.intent is SmsIntent.OTHER:
        container.events.publish(
            session,
            SMS_RECEIVED,
            {
                "messageId": str(received.id),
                "messageSid": received.message_sid,
                "leadId": str(received.lead_id) if received.lead_id else None,
                "fromNumber": received.from_number,
                "toNumber": received.to_number,
                "body": received.body,
                "receivedAt": received.created_at.isoformat(),
            },
        )
    if reply is None:
        return
    kind, body = reply
    queue_text(
        session,
        container.jobs,
        kind=kind,
        to_number=received.from_number,
        from_number=received.to_number,
        body=body,
        purpose=Purpose.INFORMATIONAL,
        lead_id=received.lead_id,
        opt_out_confirmation=kind is SmsKind.OPT_OUT_CONFIRMATION,
        send_by=outcome.confirm_by if kind is SmsKind.OPT_OUT_CONFIRMATION else None,
    )


@router.post("/sms/status")
async def delivery_status(
    request: Request, params: dict[str, str] = Depends(twilio_params), container: Container = Depends(get_container)
) -> Response:
    message_sid, status = required_params(params, "MessageSid", "MessageStatus")
    raw_code = params.get("ErrorCode")
    code = int(raw_code) if raw_code and raw_code.isdigit() else None
    message_id = request.query_params.get("messageId")
    await run_in_threadpool(_store_status, container, message_sid, message_id, status, code)
    return Response(status_code=204)


def _store_status(
    container: Container, message_sid: str, message_id: str | None, status: str, code: int | None
) -> None:
    conditions = [col(SmsMessage.message_sid) == message_sid]
    try:
        if message_id:
            conditions.append(col(SmsMessage.id) == uuid.UUID(message_id))
    except ValueError:
        pass
    with system_session(container.sessions) as session:
        organization_id = session.scalars(
            sa.select(col(SmsMessage.organization_id)).where(sa.or_(*conditions))
        ).first()
    if organization_id is None:
        logger.info("delivery status for an unknown text %s ignored", message_sid)
        return
    with tenant_session(container.sessions, organization_id) as session:
        found = apply_delivery_status(
            session, message_sid=message_sid, message_id=message_id, status=status, error_code=code, now=utcnow()
        )
        session.commit()
    if not found:
        logger.info("delivery status for text %s not applied", message_sid)
