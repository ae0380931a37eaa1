"""Route: POST /webhooks/{provider}/{sourceId}: verify, keep each new event once, queue its work, answer at once.

The request is verified over its raw bytes before anything else is read (401 when it proves nothing). Each event
is stored under its provider's event id; a copy already stored (a replay, or the provider retrying) is
acknowledged and ignored. The work (fetching thin payloads, the lead, consent, speed-to-lead) runs as a job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from seiketsu.auth.deps import get_container
from seiketsu.container import Container
from seiketsu.crypto import SecretBoxError
from seiketsu.errors import BadRequest, NotFound, Unauthorized
from seiketsu.tenancy.scoping import system_session, tenant_session
from webhooks import signatures
from webhooks.intake import INTAKE_JOB
from webhooks.models import InboundEvent, Provider, WebhookSource
from webhooks.normalise import parse_form
from webhooks.runtime import webhooks_runtime

logger = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])


@dataclass(frozen=True, slots=True)
class Delivered:
    """One inbound HTTP request, as read off the wire."""

    method: str
    uri: str
    body: bytes
    headers: Mapping[str, str]
    client_ip: str | None


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: int
    duplicates: int


def _source(container: Container, provider: str, source_id: str) -> WebhookSource:
    try:
        wanted = (Provider(provider), uuid.UUID(source_id))
    except ValueError as exc:
        raise NotFound("no such webhook") from exc
    with system_session(container.sessions) as session:
        source = session.get(WebhookSource, wanted[1])
    if source is None or source.provider != wanted[0] or not source.enabled:
        raise NotFound("no such webhook")
    return source


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not JSON") from exc


def _verify(container: Container, source: WebhookSource, request: Delivered) -> Any:
    """Check the request against the source's secret; returns the parsed body."""
    runtime = webhooks_runtime(container)
    try:
        secret = runtime.secret_box.decrypt(source.secret)
    except SecretBoxError as exc:
        logger.error("webhook source %s: its secret cannot be decrypted; enter it again", source.id)
        raise Unauthorized("this webhook's secret is unreadable") from exc
    try:
        match source.provider:
            case Provider.HUBSPOT:
                signatures.verify_hubspot(
                    client_secret=secret["client_secret"],
                    method=request.method,
                    uri=request.uri,
                    body=request.body,
                    headers=request.headers,
                    now=runtime.clock(),
                )
            case Provider.FOLLOWUPBOSS:
                signatures.verify_followupboss(
                    system_key=secret["system_key"], body=request.body, headers=request.headers
                )
            case Provider.PIPEDRIVE:
                signatures.verify_basic_auth(
                    username=secret["username"], password=secret["password"], headers=request.headers
                )
            case Provider.ZOHO:
                body = _json(request.body)
                given = body.get("token") if isinstance(body, dict) else None
                signatures.verify_token(expected=secret["token"], given=given)
                return body
            case Provider.GENERIC:
                signatures.verify_standard(secret=secret["secret"], body=request.body, headers=request.headers)
    except signatures.InvalidSignature as exc:
        logger.warning("webhook source %s (%s): refused: %s", source.id, source.provider, exc)
        raise Unauthorized(f"signature check failed: {exc}") from exc
    return _json(request.body)


def events_of(source: WebhookSource, body: Any, request: Delivered) -> list[tuple[str, dict[str, Any]]]:
    """Each event in the body with the key it is deduplicated on."""
    provider = source.provider
    if provider is Provider.HUBSPOT:
        items = body if isinstance(body, list) else [body]
        found = [(str(item.get("eventId", "")), item) for item in items if isinstance(item, dict)]
    elif provider is Provider.FOLLOWUPBOSS and isinstance(body, dict):
        found = [(str(body.get("eventId", "")), body)]
    elif provider is Provider.PIPEDRIVE and isinstance(body, dict):
        found = [(str((body.get("meta") or {}).get("id", "")), body)]
    elif provider is Provider.ZOHO and isinstance(body, dict):
        # Zoho sends no event id; the same notification is the same bytes. The echoed token is not kept.
        found = [(hashlib.sha256(request.body).hexdigest(), {k: v for k, v in body.items() if k != "token"})]
    elif provider is Provider.GENERIC and isinstance(body, dict):
        parse_form(body)
        found = [(request.headers["webhook-id"], body)]
    else:
        raise BadRequest("unexpected body for this provider")
    if not found or any(not key for key, _ in found):
        raise BadRequest("an event without an id")
    return [(key[:200], payload) for key, payload in found]


def _store(
    container: Container, source: WebhookSource, events: list[tuple[str, dict[str, Any]]], ip: str | None
) -> Accepted:
    accepted = duplicates = 0
    with tenant_session(container.sessions, source.organization_id) as session:
        for key, payload in events:
            try:
                with session.begin_nested():
                    event = InboundEvent(source_id=source.id, event_key=key, payload=payload, client_ip=ip)
                    session.add(event)
                    session.flush()
            except IntegrityError:
                duplicates += 1
                continue
            container.jobs.enqueue(session, INTAKE_JOB, {"eventId": str(event.id)})
            accepted += 1
        session.commit()
    return Accepted(accepted=accepted, duplicates=duplicates)


def accept(container: Container, provider: str, source_id: str, request: Delivered) -> Accepted:
    source = _source(container, provider, source_id)
    body = _verify(container, source, request)
    events = events_of(source, body, request)
    result = _store(container, source, events, request.client_ip)
    if result.duplicates:
        logger.info("webhook source %s: %d replayed event(s) ignored", source.id, result.duplicates)
    return result


@router.post("/webhooks/{provider}/{integration_id}")
async def receive_webhook(
    provider: str, integration_id: str, request: Request, container: Container = Depends(get_container)
) -> dict[str, int]:
    """An event from a CRM or a web form; answers as soon as it is stored and its work queued."""
    base = container.settings.public_base_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    delivered = Delivered(
        method=request.method,
        uri=f"{base}{request.url.path}{query}",
        body=await request.body(),
        headers=request.headers,
        client_ip=request.client.host if request.client else None,
    )
    result = await run_in_threadpool(accept, container, provider, integration_id, delivered)
    return {"accepted": result.accepted, "duplicates": result.duplicates}
