"""Routes: /api/v1/webhook-endpoints: the brokerage's receivers, their secrets, their delivery log, re-sends.

A target URL is checked when it is registered (and again before every send): one on a private, loopback or
link-local address, or whose host resolves to one, is refused unless ``ALLOW_PRIVATE_WEBHOOK_TARGETS`` is set.
The signing secret is shown once, in the answer that made it (creation, rotation).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.address_guard import TargetRefused, vet
from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import Conflict, FieldError, NotFound, ValidationFailed
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort
from seiketsu.schemas import Page
from webhooks import secrets
from webhooks.delivery import resend
from webhooks.models import DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.runtime import ROTATION_GRACE, webhooks_runtime
from webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
)

router = APIRouter(prefix="/api/v1/webhook-endpoints", tags=["webhooks"])

ENDPOINT_SORT = {f.name: f for f in (datetime_field("createdAt", WebhookEndpoint.created_at),)}
DELIVERY_SORT = {f.name: f for f in (datetime_field("createdAt", WebhookDelivery.created_at),)}


def get_endpoint(session: Session, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


def get_delivery(session: Session, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound("delivery not found")
    return delivery


def check_target(container: Container, url: str) -> None:
    """422 naming ``body.url`` when the URL is malformed or points inside our network."""
    runtime = webhooks_runtime(container)
    try:
        vet(url, resolver=runtime.resolver, allow_private=runtime.allow_private_targets)
    except TargetRefused as exc:
        raise ValidationFailed([FieldError("body.url", str(exc))]) from exc


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


@router.post("", response_model=EndpointWithSecret, status_code=201)
def create_endpoint(
    body: EndpointIn,
    _: Principal = Depends(require(Permission.WEBHOOK_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> EndpointWithSecret:
    check_target(container, body.url)
    secret, sealed = secrets.fresh(webhooks_runtime(container).secret_box)
    endpoint = WebhookEndpoint(url=body.url, events=list(body.events), description=body.description, secrets=sealed)
    session.add(endpoint)
    session.commit()
    return _with_secret(endpoint, secret)


@router.get("", response_model=Page[EndpointOut])
def list_endpoints(
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.WEBHOOK_READ)),
    session: Session = Depends(scoped_session),
) -> Page[WebhookEndpoint]:
    keys = parse_sort(None, ENDPOINT_SORT, default="-createdAt")
    items, next_cursor = paginate(
        session, sa.select(WebhookEndpoint), keys=keys, id_column=WebhookEndpoint.id, limit=limit, cursor=cursor
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{endpoint_id}", response_model=EndpointOut)
def read_endpoint(
    endpoint_id: uuid.UUID,
    _: Principal = Depends(require(Permission.WEBHOOK_READ)),
    session: Session = Depends(scoped_session),
) -> WebhookEndpoint:
    return get_endpoint(session, endpoint_id)


@router.patch("/{endpoint_id}", response_model=EndpointOut)
def update_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    _: Principal = Depends(require(Permission.WEBHOOK_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> WebhookEndpoint:
    endpoint = get_endpoint(session, endpoint_id)
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "events", "enabled"):
        if name in changes and changes[name] is None:
            raise ValidationFailed([FieldError(f"body.{name}", "must not be null")])
    if body.url is not None:
        check_target(container, body.url)
        endpoint.url = body.url
    if body.events is not None:
        endpoint.events = list(body.events)
    if body.description is not None:
        endpoint.description = body.description
    if body.enabled is not None:
        endpoint.enabled = body.enabled
        if body.enabled:
            endpoint.disabled_reason = None
    endpoint.updated_at = utcnow()
    session.commit()
    return endpoint


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(
    endpoint_id: uuid.UUID,
    _: Principal = Depends(require(Permission.WEBHOOK_MANAGE)),
    session: Session = Depends(scoped_session),
) -> Response:
    session.delete(get_endpoint(session, endpoint_id))
    session.commit()
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
def rotate_secret(
    endpoint_id: uuid.UUID,
    _: Principal = Depends(require(Permission.WEBHOOK_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> EndpointWithSecret:
    """A new signing secret; the previous one keeps signing (beside it) for 24 hours."""
    endpoint = get_endpoint(session, endpoint_id)
    now = utcnow()
    secret, endpoint.secrets = secrets.rotate(
        webhooks_runtime(container).secret_box, endpoint.secrets, now=now, grace=ROTATION_GRACE
    )
    endpoint.updated_at = now
    session.commit()
    return _with_secret(endpoint, secret)


@router.get("/{endpoint_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    endpoint_id: uuid.UUID,
    status: DeliveryStatus | None = Query(default=None),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.WEBHOOK_READ)),
    session: Session = Depends(scoped_session),
) -> Page[WebhookDelivery]:
    get_endpoint(session, endpoint_id)
    query = sa.select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    keys = parse_sort(None, DELIVERY_SORT, default="-createdAt")
    items, next_cursor = paginate(session, query, keys=keys, id_column=WebhookDelivery.id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{endpoint_id}/deliveries/{webhook_delivery_id}", response_model=DeliveryDetail)
def read_delivery(
    endpoint_id: uuid.UUID,
    webhook_delivery_id: uuid.UUID,
    _: Principal = Depends(require(Permission.WEBHOOK_READ)),
    session: Session = Depends(scoped_session),
) -> DeliveryDetail:
    delivery = get_delivery(session, endpoint_id, webhook_delivery_id)
    attempts = session.scalars(
        sa.select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id) == delivery.id)
        .order_by(col(DeliveryAttempt.attempt))
    ).all()
    return DeliveryDetail(
        **DeliveryOut.model_validate(delivery).model_dump(),
        payload=dict(delivery.payload),
        log=[AttemptOut.model_validate(a) for a in attempts],
    )


@router.post("/{endpoint_id}/deliveries/{webhook_delivery_id}/resend", response_model=DeliveryOut, status_code=202)
def resend_delivery(
    endpoint_id: uuid.UUID,
    webhook_delivery_id: uuid.UUID,
    _: Principal = Depends(require(Permission.WEBHOOK_MANAGE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> WebhookDelivery:
    """Send a delivery again now (with its original ``webhook-id``); the endpoint must be enabled."""
    endpoint = get_endpoint(session, endpoint_id)
    delivery = get_delivery(session, endpoint_id, webhook_delivery_id)
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled; enable it before re-sending")
    resend(session, container.jobs, delivery, webhooks_runtime(container))
    session.commit()
    return delivery
