"""Routes: /api/v1/webhook-sources (where inbound webhooks come from) and a lead's speed-to-lead attempts.

A source's id is the ``{integrationId}`` of its URL, ``POST /webhooks/{provider}/{integrationId}``. Its secret
is sealed at rest and never shown, except the one generated for a generic source, once.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from crm_adapters.models import Integration
from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.errors import FieldError, NotFound, ValidationFailed
from seiketsu.leads.models import Lead
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, page_by
from seiketsu.schemas import Page
from webhooks.models import Provider, WebhookSource
from webhooks.runtime import webhooks_runtime
from webhooks.schemas import SourceIn, SourceOut, SourceWithSecret, SpeedToLeadAttemptOut, SpeedToLeadOut
from webhooks.secrets import new_secret
from webhooks.speed_to_lead import attempts_of, next_moment

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

_CRM_OF = {
    Provider.HUBSPOT: "hubspot",
    Provider.FOLLOWUPBOSS: "followupboss",
    Provider.PIPEDRIVE: "pipedrive",
    Provider.ZOHO: "zoho",
}
_THIN_EVENTS = frozenset({Provider.HUBSPOT, Provider.FOLLOWUPBOSS, Provider.ZOHO})
"""Providers whose webhooks carry only record ids: the lead is completed through a CRM integration."""
_SECRET_KEY = {
    Provider.HUBSPOT: "client_secret",
    Provider.FOLLOWUPBOSS: "system_key",
    Provider.ZOHO: "token",
    Provider.GENERIC: "secret",
}


def _out(container: Container, source: WebhookSource, *, secret: str | None = None) -> SourceWithSecret:
    base = container.settings.public_base_url.rstrip("/")
    return SourceWithSecret(
        id=source.id,
        provider=source.provider,
        name=source.name,
        integration_id=source.integration_id,
        enabled=source.enabled,
        url=f"{base}/webhooks/{source.provider}/{source.id}",
        created_at=source.created_at,
        secret=secret,
    )


def _sealed_secret(body: SourceIn) -> tuple[dict[str, Any], str | None]:
    """The secret mapping to seal, and the secret to show once (a generated one)."""
    given = body.secret.get_secret_value() if body.secret is not None else None
    if body.provider is Provider.PIPEDRIVE:
        missing = [f for f, v in (("body.username", body.username), ("body.secret", given)) if not v]
        if missing:
            raise ValidationFailed([FieldError(f, "required for Pipedrive's Basic auth") for f in missing])
        return {"username": body.username, "password": given}, None
    if body.provider is Provider.GENERIC and given is None:
        generated = new_secret()
        return {"secret": generated}, generated
    if given is None:
        raise ValidationFailed([FieldError("body.secret", f"required for {body.provider.value}")])
    return {_SECRET_KEY[body.provider]: given}, None


@router.post("/webhook-sources", response_model=SourceWithSecret, status_code=201)
def create_source(
    body: SourceIn,
    _: Principal = Depends(require(Permission.WEBHOOK_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> SourceWithSecret:
    if body.integration_id is None and body.provider in _THIN_EVENTS:
        reason = f"required for {body.provider.value}: its events name a record to fetch through that integration"
        raise ValidationFailed([FieldError("body.integrationId", reason)])
    if body.integration_id is not None:
        integration = session.get(Integration, body.integration_id)
        if integration is None:
            raise ValidationFailed([FieldError("body.integrationId", "no such integration")])
        if integration.crm_type != _CRM_OF.get(body.provider):
            raise ValidationFailed([FieldError("body.integrationId", f"not a {body.provider.value} integration")])
    secret, shown = _sealed_secret(body)
    source = WebhookSource(
        provider=body.provider,
        name=body.name,
        integration_id=body.integration_id,
        secret=webhooks_runtime(container).secret_box.encrypt(secret),
    )
    session.add(source)
    session.commit()
    return _out(container, source, secret=shown)


@router.get("/webhook-sources", response_model=Page[SourceOut])
def list_sources(
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.WEBHOOK_READ)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> Page[SourceWithSecret]:
    created_at = datetime_field("createdAt", WebhookSource.created_at)
    page = page_by(session, sa.select(WebhookSource), created_at, WebhookSource.id, limit, cursor)
    return Page(items=[_out(container, s) for s in page.items], next_cursor=page.next_cursor)


@router.delete("/webhook-sources/{source_id}", status_code=204)
def delete_source(
    source_id: uuid.UUID,
    _: Principal = Depends(require(Permission.WEBHOOK_MANAGE)),
    session: Session = Depends(scoped_session),
) -> Response:
    source = session.get(WebhookSource, source_id)
    if source is None:
        raise NotFound("webhook source not found")
    session.delete(source)
    session.commit()
    return Response(status_code=204)


@router.get("/leads/{lead_id}/speed-to-lead", response_model=SpeedToLeadOut)
def lead_speed_to_lead(
    lead_id: uuid.UUID,
    _: Principal = Depends(require(Permission.LEAD_READ)),
    session: Session = Depends(scoped_session),
) -> SpeedToLeadOut:
    """Every speed-to-lead step for the lead: when it was scheduled, each gate decision, the call it placed."""
    if session.get(Lead, lead_id) is None:
        raise NotFound("lead not found")
    attempts = attempts_of(session, lead_id)
    return SpeedToLeadOut(
        lead_id=lead_id,
        next_attempt_at=next_moment(attempts),
        attempts=[SpeedToLeadAttemptOut.model_validate(a) for a in attempts],
    )
