"""Helpers for the delivery tests: an integration pointed at a CRM fake, call.completed events, a job loop."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from crm_adapters.fake_server import FakeHubSpot
from crm_adapters.models import Delivery, DeliveryAttempt, Integration
from crm_adapters.runtime import EXTRAS_KEY, CRMRuntime, crm_runtime
from crm_adapters.service import seal_credentials
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.jobs.rq_backend import RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner, RunnerConfig
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session, tenant_session
from tests.factories import OrgFixture

FAKE_BASE = "http://fake-hubspot.test"
"""Where the tests' HubSpot requests go: server configuration (``CRM_BASE_URLS``), as for any local double."""

UNIQUE_PROPERTIES = {
    "contacts": ["email", "seiketsu_lead_id"],
    "calls": ["seiketsu_call_id"],
    "tasks": ["seiketsu_task_id"],
    "meetings": ["seiketsu_appointment_id"],
}
"""The unique properties a brokerage creates in HubSpot so that every write can be an upsert."""

IDEMPOTENT_FIELDS = {
    "lead_id": "seiketsu_lead_id",
    "call_id": "seiketsu_call_id",
    "task_id": "seiketsu_task_id",
    "appointment_id": "seiketsu_appointment_id",
}


class WorkerKilled(BaseException):
    """Stands for the process dying: nothing in the job or the runner may catch it (they catch ``Exception``)."""


def use_http(
    container: Container,
    factory: Callable[[], httpx.AsyncClient],
    *,
    base_url: str | None = FAKE_BASE,
    vendor: str = "hubspot",
    **overrides: Any,
) -> CRMRuntime:
    """Point the CRM runtime's HTTP clients somewhere else (a fake), ``vendor``'s requests at ``base_url`` (as
    ``CRM_BASE_URLS`` would; ``None``: at the vendors' own hosts), with other runtime overrides."""
    base_urls = {} if base_url is None else {vendor: base_url}
    runtime = replace(crm_runtime(container), http_factory=factory, base_urls=base_urls, **overrides)
    container.extras[EXTRAS_KEY] = runtime
    return runtime


def vendor_mocks(container: Container) -> None:
    """CRM requests to the vendors' own hosts, for respx to answer: without the address guard, which would resolve
    the vendors' names (no network in tests) and connect to the address instead of the name respx routes on."""
    use_http(container, lambda: httpx.AsyncClient(timeout=5), base_url=None)


def asgi_client(app: Any) -> Callable[[], httpx.AsyncClient]:
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=5)


def make_integration(
    container: Container,
    org: OrgFixture,
    *,
    credentials: Mapping[str, str],
    field_mapping: Mapping[str, str | None] | None = None,
    settings: Mapping[str, str] | None = None,
    crm_type: str = "hubspot",
    rate_limit: tuple[int, float] | None = (10_000, 1.0),
) -> uuid.UUID:
    """An integration as the API would store it; fast by default (pass ``rate_limit=None`` for the vendor's)."""
    sealed, keys = seal_credentials(crm_runtime(container).secret_box, credentials)
    with tenant_session(container.sessions, org.id) as session:
        integration = Integration(
            crm_type=crm_type,
            name=f"{crm_type} {uuid.uuid4().hex[:6]}",
            credentials=sealed,
            credential_keys=keys,
            field_mapping=dict(field_mapping or {}),
            settings=dict(settings or {}),
            rate_limit_requests=rate_limit[0] if rate_limit else None,
            rate_limit_window_seconds=rate_limit[1] if rate_limit else None,
        )
        session.add(integration)
        session.commit()
        return integration.id


def configure_hubspot(client: TestClient, headers: Mapping[str, str], fake: FakeHubSpot, **body: Any) -> str:
    """HubSpot configured through the API against ``fake``, as a brokerage admin would; returns the integration id.
    ``body`` adds fields of the request (``fieldMapping``, ...)."""
    created = client.post(
        "/api/v1/integrations",
        json={
            "crmType": "hubspot",
            "name": "HubSpot",
            "credentials": {"access_token": fake.access_token},
            **body,
        },
        headers=dict(headers),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def make_leads(container: Container, org: OrgFixture, count: int, *, with_email: bool = True) -> list[Lead]:
    with tenant_session(container.sessions, org.id) as session:
        leads = [
            Lead(
                phone=f"+1512{7000000 + n:07d}",
                first_name="Jane",
                last_name=f"Doe{n}",
                email=f"jane{n}@example.com" if with_email else None,
                source="web_form",
            )
            for n in range(count)
        ]
        session.add_all(leads)
        session.commit()
        return leads


def completed_event(
    lead: Lead | None,
    *,
    outcome: str = "qualified",
    call_id: str | None = None,
    appointment_id: str | None = None,
    direction: str = "inbound",
) -> dict[str, Any]:
    """A call.completed payload in telephony's shape (``telephony.calls.completed_payload``)."""
    ended = datetime(2026, 5, 1, 15, 3, 5, tzinfo=UTC)
    prospect = lead.phone if lead is not None else "+15125559999"
    brokerage = "+15125550100"
    return {
        "callId": call_id or str(uuid.uuid4()),
        "callSid": "CA" + uuid.uuid4().hex,
        "leadId": str(lead.id) if lead is not None else None,
        "direction": direction,
        "fromNumber": prospect if direction == "inbound" else brokerage,
        "toNumber": brokerage if direction == "inbound" else prospect,
        "status": "completed",
        "outcome": outcome,
        "purpose": None,
        "durationSeconds": 185,
        "startedAt": (ended - timedelta(seconds=190)).isoformat(),
        "answeredAt": (ended - timedelta(seconds=185)).isoformat(),
        "endedAt": ended.isoformat(),
        "qualification": {"intent": "buy", "area": "Austin", "timeline": "0-3 months", "budget": 550000},
        "summary": "Caller: I'm looking to buy in Austin.",
        "appointmentId": appointment_id,
        "recordingUrl": None,
    }


def publish(container: Container, org: OrgFixture, events: list[dict[str, Any]]) -> None:
    with tenant_session(container.sessions, org.id) as session:
        for event in events:
            container.events.publish(session, "call.completed", event)
        session.commit()


def unfinished_jobs(container: Container) -> list[Job]:
    with system_session(container.sessions) as session:
        query = sa.select(Job).where(col(Job.status).in_([JobStatus.PENDING, JobStatus.RUNNING]))
        return list(session.scalars(query))


def run_jobs(container: Container, *, config: RunnerConfig | None = None, timeout: float = 30.0) -> None:
    """Run every job with a real RQ worker until none is pending or running, waiting out delays and leases."""
    dispatcher = container.jobs.dispatcher
    assert isinstance(dispatcher, RQDispatcher)
    worker = RQWorker(JobRunner(container, config or container.runner_config), dispatcher)
    deadline = time.monotonic() + timeout
    while True:
        worker.work(burst=True)
        waiting = unfinished_jobs(container)
        if not waiting:
            return
        unfinished = [(j.name, j.status, j.last_error) for j in waiting]
        assert time.monotonic() < deadline, f"jobs still unfinished: {unfinished}"
        now = utcnow()
        wake = min((j.run_at if j.status == JobStatus.PENDING else j.locked_until) or now for j in waiting)
        time.sleep(min(max((wake - now).total_seconds(), 0.01), 0.5))


def deliveries(container: Container, org: OrgFixture) -> list[Delivery]:
    with tenant_session(container.sessions, org.id) as session:
        return list(session.scalars(sa.select(Delivery).order_by(col(Delivery.created_at))))


def attempts(container: Container, org: OrgFixture, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    with tenant_session(container.sessions, org.id) as session:
        query = (
            sa.select(DeliveryAttempt)
            .where(col(DeliveryAttempt.delivery_id) == delivery_id)
            .order_by(col(DeliveryAttempt.attempt), col(DeliveryAttempt.created_at))
        )
        return list(session.scalars(query))


def jobs_named(container: Container, name: str) -> list[Job]:
    with system_session(container.sessions) as session:
        return list(session.scalars(sa.select(Job).where(col(Job.name) == name)))


def expire_leases(container: Container) -> None:
    """What time does to a dead worker's claims: its job and delivery leases lapse."""
    past = utcnow() - timedelta(seconds=1)
    with system_session(container.sessions) as session:
        session.execute(sa.update(Job).where(col(Job.status) == JobStatus.RUNNING).values(locked_until=past))
        session.execute(sa.update(Delivery).where(col(Delivery.lease_token).is_not(None)).values(lease_expires_at=past))
        session.commit()
