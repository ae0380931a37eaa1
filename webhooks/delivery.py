"""Outbound events: one delivery per subscribed endpoint, each its own job, retried with backoff for up to a day.

``webhooks.fan_out`` runs for every published event the brokerage can subscribe to; it adds one
:class:`WebhookDelivery` per enabled endpoint subscribed to the event and queues one ``webhooks.deliver`` job per
delivery, so a slow or failing receiver only ever holds up its own deliveries. A delivery's ``message_id`` is
derived from the fan-out job and the endpoint, so a fan-out that runs twice adds nothing.

``webhooks.deliver`` signs (Standard Webhooks, every valid secret of the endpoint), sends and logs the attempt.
A failure is tried again after the next step of the runtime's schedule; when the schedule is spent the delivery
fails, and if the endpoint has not succeeded since the delivery was made, the endpoint is disabled.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.db import utcnow
from seiketsu.jobs.queue import JobQueue
from seiketsu.jobs.registry import JobContext, RetryLater
from seiketsu.tenancy.scoping import tenant_session
from webhooks.models import DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.runtime import WebhooksRuntime, webhooks_runtime
from webhooks.secrets import valid_secrets
from webhooks.sender import SendResult, send

logger = logging.getLogger(__name__)

FAN_OUT_JOB = "webhooks.fan_out"
DELIVER_JOB = "webhooks.deliver"

EVENT_TYPES = (
    "call.started",
    "call.completed",
    "lead.created",
    "lead.qualified",
    "appointment.booked",
    "compliance.blocked",
    "sms.received",
)
"""The events an endpoint may subscribe to."""


def message_id(source_job: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    return "msg_" + uuid.uuid5(source_job, str(endpoint_id)).hex


def envelope(event_type: str, data: dict[str, Any], *, at: str) -> dict[str, Any]:
    """The body every delivery carries (the Standard Webhooks payload shape)."""
    return {"type": event_type, "timestamp": at, "data": data}


def enqueue_delivery(session: Session, jobs: JobQueue, delivery: WebhookDelivery, runtime: WebhooksRuntime) -> None:
    jobs.enqueue(
        session,
        DELIVER_JOB,
        {"deliveryId": str(delivery.id)},
        organization_id=delivery.organization_id,
        max_attempts=len(runtime.retry_schedule) + 1,
    )


def has_enabled_endpoint(session: Session, organization_id: uuid.UUID, payload: Mapping[str, Any]) -> bool:
    """The fan-out's relevance check: an organization without an enabled endpoint gets no job."""
    query = sa.select(col(WebhookEndpoint.id)).where(
        col(WebhookEndpoint.organization_id) == organization_id, col(WebhookEndpoint.enabled).is_(True)
    )
    return session.scalar(query.limit(1)) is not None


def fan_out(context: JobContext) -> None:
    payload = dict(context.payload)
    event_type = str(payload.pop("event", ""))
    if event_type not in EVENT_TYPES:
        return
    runtime = webhooks_runtime(context.container)
    now = utcnow()
    body = envelope(event_type, payload, at=now.isoformat())
    with tenant_session(context.container.sessions, context.organization_id) as session:
        endpoints = session.scalars(sa.select(WebhookEndpoint).where(col(WebhookEndpoint.enabled).is_(True))).all()
        wanted = [e for e in endpoints if event_type in e.events]
        if not wanted:
            return
        ids = {e.id: message_id(context.job_id, e.id) for e in wanted}
        done = set(
            session.scalars(
                sa.select(col(WebhookDelivery.message_id)).where(col(WebhookDelivery.message_id).in_(ids.values()))
            )
        )
        for endpoint in wanted:
            if ids[endpoint.id] in done:
                continue
            delivery = WebhookDelivery(
                endpoint_id=endpoint.id, event_type=event_type, message_id=ids[endpoint.id], payload=body
            )
            session.add(delivery)
            session.flush()
            enqueue_delivery(session, context.container.jobs, delivery, runtime)
        session.commit()


@dataclass(frozen=True, slots=True)
class _Work:
    delivery_id: uuid.UUID
    url: str
    secrets: list[str]
    message_id: str
    body: str
    created_at: Any


def _work(context: JobContext, runtime: WebhooksRuntime, delivery_id: uuid.UUID) -> _Work | None:
    with tenant_session(context.container.sessions, context.organization_id) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = "the endpoint is disabled"
            delivery.finished_at = delivery.updated_at = utcnow()
            session.commit()
            return None
        return _Work(
            delivery_id=delivery.id,
            url=endpoint.url,
            secrets=valid_secrets(runtime.secret_box, endpoint.secrets, now=utcnow()),
            message_id=delivery.message_id,
            body=json.dumps(delivery.payload, separators=(",", ":")),
            created_at=delivery.created_at,
        )


def _log(context: JobContext, runtime: WebhooksRuntime, work: _Work, result: SendResult, *, last_chance: bool) -> None:
    """Record the attempt and its consequences: success, another try, failure (and maybe a disabled endpoint)."""
    now = utcnow()
    with tenant_session(context.container.sessions, context.organization_id) as session:
        delivery = session.get(WebhookDelivery, work.delivery_id, with_for_update=True)
        if delivery is None:
            return
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
        delivery.attempts += 1
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                error=result.error,
            )
        )
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.updated_at = now
        if result.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.finished_at = now
            if endpoint is not None:
                endpoint.last_success_at = now
        elif last_chance or result.refused:
            delivery.status = DeliveryStatus.FAILED
            delivery.finished_at = now
            if (
                endpoint is not None
                and endpoint.enabled
                and (endpoint.last_success_at is None or endpoint.last_success_at < delivery.created_at)
            ):
                endpoint.enabled = False
                endpoint.disabled_reason = f"every attempt of delivery {delivery.id} failed: {result.error}"[:300]
                endpoint.updated_at = now
                logger.warning("webhook endpoint %s disabled after persistent failure", endpoint.id)
        session.commit()


async def deliver(context: JobContext) -> None:
    runtime = webhooks_runtime(context.container)
    work = _work(context, runtime, uuid.UUID(str(context.payload["deliveryId"])))
    if work is None:
        return
    async with runtime.http_client() as http:
        result = await send(
            runtime, http, url=work.url, secrets=work.secrets, message_id=work.message_id, body=work.body
        )
    schedule = runtime.retry_schedule
    last_chance = context.attempt > len(schedule)
    _log(context, runtime, work, result, last_chance=last_chance)
    if not result.ok and not last_chance and not result.refused:
        raise RetryLater(f"delivery {work.delivery_id}: {result.error}", delay=schedule[context.attempt - 1])


def resend(session: Session, jobs: JobQueue, delivery: WebhookDelivery, runtime: WebhooksRuntime) -> None:
    """Send a delivery again now, whatever became of it, with the same ``webhook-id``; the caller commits."""
    delivery.status = DeliveryStatus.PENDING
    delivery.finished_at = None
    delivery.updated_at = utcnow()
    enqueue_delivery(session, jobs, delivery, runtime)
