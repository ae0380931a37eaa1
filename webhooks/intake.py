"""The ``webhooks.intake`` job: one stored inbound event becomes a lead, its consent and its speed-to-lead call.

Thin events are completed by fetching the record through the source's CRM integration. The lead is matched by
phone, then by email, and created when neither matches; consent the form captured goes into the compliance
ledger with its evidence. A job may run twice: an event already processed is left alone.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.consent import ConsentKind
from compliance.ledger import Evidence, GrantSource, record_grant
from compliance.vocabulary import ConsentChannel, Purpose
from crm_adapters.errors import PermanentCRMError
from crm_adapters.models import Integration
from crm_adapters.runtime import crm_runtime
from crm_adapters.service import IntegrationConfig, open_crm
from crm_adapters.values import ContactMatch
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.registry import JobContext
from seiketsu.leads.events import LEAD_CREATED, lead_payload
from seiketsu.leads.models import Lead
from seiketsu.phones import mask_phone
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import tenant_session
from webhooks.models import InboundEvent, InboundStatus, Provider, WebhookSource
from webhooks.normalise import LeadFacts, from_contact, from_form, from_pipedrive, thin_ids
from webhooks.speed_to_lead import schedule_first_call

logger = logging.getLogger(__name__)

INTAKE_JOB = "webhooks.intake"


@runtime_checkable
class ContactFetcher(Protocol):
    """A CRM adapter that can read one contact by its id (HubSpot, Follow Up Boss, Zoho)."""

    async def fetch_contact(self, contact_id: str) -> ContactMatch | None: ...


class CannotComplete(Exception):
    """A thin event cannot be completed: no integration, or one that cannot fetch records."""


@dataclass(frozen=True, slots=True)
class _Stored:
    event_id: uuid.UUID
    provider: Provider
    integration_id: uuid.UUID | None
    payload: dict[str, object]
    received_at: datetime
    client_ip: str | None


def _load(container: Container, organization_id: uuid.UUID, event_id: uuid.UUID) -> _Stored | None:
    with tenant_session(container.sessions, organization_id) as session:
        row = session.execute(
            sa.select(InboundEvent, WebhookSource)
            .join(WebhookSource, col(WebhookSource.id) == col(InboundEvent.source_id))
            .where(col(InboundEvent.id) == event_id)
        ).one_or_none()
        if row is None or row[0].status != InboundStatus.QUEUED:
            return None
        event, source = row
        return _Stored(
            event_id=event.id,
            provider=Provider(source.provider),
            integration_id=source.integration_id,
            payload=dict(event.payload),
            received_at=event.received_at,
            client_ip=event.client_ip,
        )


async def _fetch(container: Container, organization_id: uuid.UUID, stored: _Stored, ids: list[str]) -> list[LeadFacts]:
    if stored.integration_id is None:
        raise CannotComplete("the webhook has no CRM integration to fetch the record from")
    with tenant_session(container.sessions, organization_id) as session:
        integration = session.get(Integration, stored.integration_id)
        if integration is None or not integration.enabled:
            raise CannotComplete("the webhook's CRM integration is missing or disabled")
        config = IntegrationConfig.of(integration)
    facts: list[LeadFacts] = []
    async with open_crm(crm_runtime(container), container.sessions, config) as (crm, _log):
        if not isinstance(crm, ContactFetcher):
            raise CannotComplete(f"{config.crm_type} records cannot be fetched by id")
        for remote_id in ids:
            match = await crm.fetch_contact(remote_id)
            if match is not None:
                facts.append(
                    from_contact(name=match.name, phone=match.phone, email=match.email, source=stored.provider.value)
                )
    return facts


async def lead_facts(container: Container, organization_id: uuid.UUID, stored: _Stored) -> list[LeadFacts]:
    """What the event says about leads (fetching thin records); empty when it is about something else."""
    payload = stored.payload
    if stored.provider is Provider.GENERIC:
        return [from_form(payload, received_at=stored.received_at, client_ip=stored.client_ip)]
    if stored.provider is Provider.PIPEDRIVE:
        found = from_pipedrive(payload)
        return [found] if found is not None else []
    ids = thin_ids(stored.provider, payload)
    return await _fetch(container, organization_id, stored, ids) if ids else []


def _find(session: Session, facts: LeadFacts) -> Lead | None:
    if facts.phone:
        lead = session.scalars(sa.select(Lead).where(col(Lead.phone) == facts.phone)).one_or_none()
        if lead is not None:
            return lead
    if facts.email:
        query = sa.select(Lead).where(sa.func.lower(col(Lead.email)) == facts.email.lower())
        return session.scalars(query.order_by(col(Lead.created_at))).first()
    return None


def upsert_lead(session: Session, facts: LeadFacts, *, now: datetime) -> tuple[Lead, bool] | None:
    """The matching lead with what it lacked filled in, or a new one; None without a usable phone for a new one."""
    lead = _find(session, facts)
    if lead is None:
        if not facts.phone:
            return None
        lead = Lead(
            phone=facts.phone,
            email=facts.email,
            first_name=(facts.first_name or "")[:100],
            last_name=(facts.last_name or "")[:100],
            source=facts.source[:50],
            state=facts.state,
            postal_code=facts.postal_code,
            last_inquiry_at=now,
        )
        session.add(lead)
        session.flush()
        return lead, True
    if facts.email and not lead.email:
        lead.email = facts.email
    if facts.first_name and not (lead.first_name or lead.last_name):
        lead.first_name, lead.last_name = facts.first_name[:100], (facts.last_name or "")[:100]
    lead.state = lead.state or facts.state
    lead.postal_code = lead.postal_code or facts.postal_code
    lead.last_inquiry_at = now
    lead.updated_at = now
    return lead, False


def record_consent(session: Session, lead: Lead, facts: LeadFacts, *, recorded_by: str) -> None:
    """The form's consent, as written consent to calls and texts by an AI voice or a person."""
    consent = facts.consent
    if consent is None:
        return
    record_grant(
        session,
        phone=lead.phone,
        kind=ConsentKind.WRITTEN,
        channels=tuple(ConsentChannel),
        purposes=tuple(Purpose),
        source=GrantSource.WEB_FORM,
        granted_at=consent.granted_at,
        evidence=Evidence(form_url=consent.page_url, text_shown=consent.text, ip_address=consent.ip_address),
        recorded_by=recorded_by,
    )


def _finish(
    container: Container,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    *,
    status: InboundStatus,
    detail: str | None = None,
    lead_id: uuid.UUID | None = None,
    session: Session | None = None,
) -> None:
    def mark(s: Session) -> None:
        s.execute(
            sa.update(InboundEvent)
            .where(col(InboundEvent.id) == event_id)
            .values(status=status, detail=detail, lead_id=lead_id, processed_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    if session is not None:
        mark(session)
        return
    with tenant_session(container.sessions, organization_id) as own:
        mark(own)
        own.commit()


def apply(container: Container, organization_id: uuid.UUID, stored: _Stored, facts: list[LeadFacts]) -> None:
    """Leads, consent and speed-to-lead of one event, in one transaction with marking it processed."""
    now = utcnow()
    with tenant_session(container.sessions, organization_id) as session:
        claimed = session.execute(
            sa.select(InboundEvent).where(col(InboundEvent.id) == stored.event_id).with_for_update()
        ).scalar_one()
        if claimed.status != InboundStatus.QUEUED:
            return
        org = session.get(Organization, organization_id)
        first_lead: uuid.UUID | None = None
        skipped = 0
        for item in facts:
            found = upsert_lead(session, item, now=now)
            if found is None:
                skipped += 1
                continue
            lead, created = found
            first_lead = first_lead or lead.id
            record_consent(session, lead, item, recorded_by=f"webhook:{stored.event_id}")
            if created:
                container.events.publish(session, LEAD_CREATED, lead_payload(lead))
                if org is not None:
                    schedule_first_call(session, container.jobs, lead=lead, org_settings=org.settings)
            logger.info(
                "webhook event %s: lead %s %s",
                stored.event_id,
                mask_phone(lead.phone),
                "created" if created else "updated",
            )
        if first_lead is None:
            detail = "no usable phone number or email" if skipped else "not about a new or changed lead"
            _finish(
                container,
                organization_id,
                stored.event_id,
                status=InboundStatus.IGNORED,
                detail=detail,
                session=session,
            )
        else:
            _finish(
                container,
                organization_id,
                stored.event_id,
                status=InboundStatus.PROCESSED,
                lead_id=first_lead,
                session=session,
            )
        session.commit()


async def intake_job(context: JobContext) -> None:
    container, org_id = context.container, context.organization_id
    stored = _load(container, org_id, uuid.UUID(str(context.payload["eventId"])))
    if stored is None:
        return
    try:
        facts = await lead_facts(container, org_id, stored)
    except (CannotComplete, PermanentCRMError) as exc:
        logger.warning("webhook event %s cannot be completed: %s", stored.event_id, exc)
        _finish(container, org_id, stored.event_id, status=InboundStatus.FAILED, detail=str(exc)[:2000])
        return
    apply(container, org_id, stored, facts)
