"""Texts after a call: one template per organization and call outcome, sent through the gate.

Templates live in the organization's settings, under ``smsTemplates``, keyed by call outcome (``appointment_set``,
``qualified``, ``transferred``, ``not_interested``, ``voicemail``, ``no_answer``, ``failed``; ``opted_out`` is
never texted). A template is a string, or ``{"body": ..., "purpose": "marketing" | "informational"}``; the purpose
is what the gate is asked about and defaults to informational for an appointment confirmation and marketing
otherwise. Placeholders, in braces: ``firstName`` ("there" when unknown), ``lastName``, ``businessName``,
``agentName``, ``callbackNumber``, ``officeAddress``, ``appointmentTime`` (e.g. "Tuesday, June 10 at 2:00 PM", in
the appointment's time zone). A template naming an unknown placeholder, or one with no value for this call, is
not sent (and logged). For example::

    {"smsTemplates": {
        "appointment_set": "Hi {firstName}, you're booked with {businessName} on {appointmentTime} at
                            {officeAddress}. Questions? Call {callbackNumber}. Reply STOP to opt out.",
        "voicemail": {"body": "Hi {firstName}, {agentName} from {businessName} tried to reach you about your
                               home search. Call us at {callbackNumber}. Reply STOP to opt out.",
                      "purpose": "marketing"}}}

The text goes from the number the call used, to the lead, at most once per call.
"""

from __future__ import annotations

import logging
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.vocabulary import Purpose
from seiketsu.jobs.registry import JobContext
from seiketsu.leads.models import Appointment, Lead
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import tenant_session
from telephony.sms import queue_text
from telephony.sms_models import SmsKind, SmsMessage

logger = logging.getLogger(__name__)

FOLLOW_UP_JOB = "telephony.sms.follow_up"
SETTINGS_KEY = "smsTemplates"
PLACEHOLDERS = frozenset(
    {"firstName", "lastName", "businessName", "agentName", "callbackNumber", "officeAddress", "appointmentTime"}
)
MAX_BODY = 1600
_NEVER_TEXTED = frozenset({"opted_out"})


class TemplateError(ValueError):
    """A template that cannot be rendered for this call."""


@dataclass(frozen=True, slots=True)
class Template:
    body: str
    purpose: Purpose


def template_for(settings: Mapping[str, Any], outcome: str) -> Template | None:
    """The organization's template for ``outcome``, or None (also for a malformed entry, which is logged)."""
    if outcome in _NEVER_TEXTED:
        return None
    templates = settings.get(SETTINGS_KEY)
    entry = templates.get(outcome) if isinstance(templates, Mapping) else None
    default = Purpose.INFORMATIONAL if outcome == "appointment_set" else Purpose.MARKETING
    if isinstance(entry, str) and entry.strip():
        return Template(body=entry, purpose=default)
    if isinstance(entry, Mapping) and isinstance(entry.get("body"), str) and entry["body"].strip():
        purpose = entry.get("purpose", default.value)
        if purpose in {p.value for p in Purpose}:
            return Template(body=entry["body"], purpose=Purpose(purpose))
    if entry is not None:
        logger.warning("malformed SMS template for outcome %r ignored", outcome)
    return None


def render(body: str, values: Mapping[str, str | None]) -> str:
    """Fill ``{placeholder}`` fields; raises TemplateError for an unknown or empty one."""
    out: list[str] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise TemplateError(f"malformed template: {exc}") from exc
    for literal, name, spec, conversion in parsed:
        out.append(literal)
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise TemplateError(f"unknown placeholder {{{name}}}")
        value = values.get(name)
        if not value:
            raise TemplateError(f"no value for {{{name}}} on this call")
        out.append(value)
    text = "".join(out).strip()
    if not text or len(text) > MAX_BODY:
        raise TemplateError(f"the text must be 1 to {MAX_BODY} characters")
    return text


def appointment_time(starts_at: datetime, timezone: str) -> str:
    local = starts_at.astimezone(ZoneInfo(timezone))
    hour = local.hour % 12 or 12
    return f"{local:%A, %B} {local.day} at {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def has_template(session: Session, organization_id: uuid.UUID, payload: Mapping[str, Any]) -> bool:
    """The relevance check: a call whose outcome the organization has no template for gets no job."""
    outcome = payload.get("outcome")
    if not (outcome and payload.get("leadId") and payload.get("callId")):
        return False
    org = session.get(Organization, organization_id)
    return org is not None and template_for(org.settings, str(outcome)) is not None


def follow_up_job(context: JobContext) -> None:
    """Subscribed to ``call.completed``: queue the outcome's text, if the organization has a template for it."""
    payload = context.payload
    outcome, lead_id, call_id = payload.get("outcome"), payload.get("leadId"), payload.get("callId")
    if not (outcome and lead_id and call_id):
        return
    container = context.container
    with tenant_session(container.sessions, context.organization_id) as session:
        org = session.get(Organization, context.organization_id)
        template = template_for(org.settings, str(outcome)) if org is not None else None
        if org is None or template is None:
            return
        already = session.scalars(
            sa.select(col(SmsMessage.id)).where(
                col(SmsMessage.call_id) == uuid.UUID(call_id), col(SmsMessage.kind) == SmsKind.FOLLOW_UP
            )
        ).first()
        lead = session.get(Lead, uuid.UUID(lead_id))
        if already is not None or lead is None:
            return
        inbound = payload.get("direction") == "inbound"
        our_number = str(payload.get("toNumber") if inbound else payload.get("fromNumber"))
        settings = org.settings
        section = settings.get("compliance")
        compliance: Mapping[str, Any] = section if isinstance(section, Mapping) else {}
        values: dict[str, str | None] = {
            "firstName": lead.first_name.strip() or "there",
            "lastName": lead.last_name.strip() or None,
            "businessName": _text(compliance.get("businessName")) or _text(settings.get("businessName")) or org.name,
            "agentName": _text(settings.get("agentName")) or "Ava",
            "callbackNumber": _text(compliance.get("callbackNumber"))
            or _text(settings.get("callbackNumber"))
            or our_number,
            "officeAddress": _text(settings.get("officeAddress")),
            "appointmentTime": None,
        }
        appointment_id = payload.get("appointmentId")
        appointment = session.get(Appointment, uuid.UUID(appointment_id)) if appointment_id else None
        if appointment is not None:
            values["appointmentTime"] = appointment_time(appointment.starts_at, appointment.timezone)
        try:
            body = render(template.body, values)
        except TemplateError as exc:
            logger.warning("no follow-up text for call %s (%s): %s", call_id, outcome, exc)
            return
        queue_text(
            session,
            container.jobs,
            kind=SmsKind.FOLLOW_UP,
            to_number=lead.phone,
            from_number=our_number,
            body=body,
            purpose=template.purpose,
            lead_id=lead.id,
            call_id=uuid.UUID(call_id),
        )
        session.commit()
