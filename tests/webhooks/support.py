"""Helpers for the webhook tests: signing requests as each provider does, sources and endpoints made through the
API, a brokerage receiver served on a real local socket, and a resolver that answers what a test tells it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm_adapters.local_server import serve_locally
from seiketsu.container import Container
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import system_session
from tests.factories import OrgFixture
from webhooks.runtime import WebhooksRuntime, webhooks_runtime


def runtime_of(container: Container) -> WebhooksRuntime:
    return webhooks_runtime(container)


def enable_speed_to_lead(container: Container, org: OrgFixture, *, delay: int = 0) -> None:
    with system_session(container.sessions) as session:
        record = session.get(Organization, org.id)
        assert record is not None
        record.settings = {**record.settings, "speedToLead": {"enabled": True, "delaySeconds": delay}}
        session.commit()


def create_source(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/webhook-sources", headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def path_of(source: dict[str, Any]) -> str:
    return f"/webhooks/{source['provider']}/{source['id']}"


# --- signing as each provider does


def standard_headers(
    secret: str, body: bytes, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def hubspot_headers(secret: str, uri: str, body: bytes, *, at_ms: int | None = None) -> dict[str, str]:
    timestamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    message = b"POST" + uri.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def fub_headers(system_key: str, body: bytes) -> dict[str, str]:
    signature = hmac.new(system_key.encode(), base64.b64encode(body), hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "FUB-Signature": signature}


def to_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# --- the brokerage's receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A brokerage's webhook receiver on a real socket: records what arrives, answers as told per path."""

    received: list[Received] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        with self._lock:
            self.received.append(Received(path=path, headers=dict(request.headers), body=body, at=time.monotonic()))
        if path in self.delay:
            await asyncio.sleep(self.delay[path])
        return Response(status_code=self.status.get(path, 204))

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]


@contextmanager
def receiver() -> Iterator[tuple[Receiver, str]]:
    fake = Receiver()
    with serve_locally(fake.app()) as url:
        yield fake, url


@contextmanager
def lead_created_endpoint(client: TestClient, headers: dict[str, str]) -> Iterator[tuple[Receiver, str]]:
    """A brokerage endpoint subscribed to ``lead.created`` through the API, on a local receiver that deliveries
    may reach; yields the receiver and the endpoint's signing secret."""
    runtime = runtime_of(client.app.state.container)  # type: ignore[attr-defined]
    runtime.allow_private_targets = True
    with receiver() as (fake, url):
        created = client.post(
            "/api/v1/webhook-endpoints", headers=headers, json={"url": f"{url}/leads", "events": ["lead.created"]}
        )
        assert created.status_code == 201, created.text
        yield fake, created.json()["secret"]


def lead_created_events(fake: Receiver, secret: str) -> list[dict[str, Any]]:
    """The ``lead.created`` payloads the receiver got, each signature verified."""
    events = [Webhook(secret).verify(r.body, r.headers) for r in fake.received]
    assert all(event["type"] == "lead.created" for event in events)
    return [event["data"] for event in events]
