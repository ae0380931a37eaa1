"""call.completed -> fan-out -> delivery jobs on a real RQ worker -> the HubSpot fake, exactly once."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from crm_adapters.fake_server import FakeHubSpot, FaultPlan, RateLimit
from crm_adapters.jobs import DELIVER_JOB, FAN_OUT_JOB, fan_out
from crm_adapters.models import Delivery, DeliveryStatus, Integration, RemoteKind, RemoteRecord
from crm_adapters.runtime import crm_runtime
from crm_adapters.service import open_credentials, redrive
from crm_adapters.wiring import register
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.models import JobStatus
from seiketsu.jobs.registry import JobContext
from seiketsu.jobs.rq_backend import RQWorker
from seiketsu.jobs.runner import JobRunner
from seiketsu.leads.models import Appointment
from seiketsu.tenancy.scoping import tenant_session
from tests.factories import make_org

from .delivery_support import (
    IDEMPOTENT_FIELDS,
    UNIQUE_PROPERTIES,
    asgi_client,
    attempts,
    completed_event,
    deliveries,
    jobs_named,
    make_integration,
    make_leads,
    publish,
    run_jobs,
    use_http,
)


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot(unique_properties=UNIQUE_PROPERTIES)


@pytest.fixture
def wired(container: Container, fake: FakeHubSpot) -> Container:
    register(container)
    use_http(container, asgi_client(fake.app))
    return container


def one_burst(container: Container) -> None:
    RQWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher).work(burst=True)  # type: ignore[arg-type]


def test_a_finished_call_lands_as_contact_call_and_task_exactly_once(wired, fake):
    org = make_org(wired, "acme")
    make_integration(wired, org, credentials={"access_token": fake.access_token})
    [lead] = make_leads(wired, org, 1)
    event = completed_event(lead, outcome="qualified")
    publish(wired, org, [event])
    run_jobs(wired)

    [contact] = fake.objects["contacts"].values()
    [call] = fake.objects["calls"].values()
    [task] = fake.objects["tasks"].values()
    assert contact.properties["email"] == lead.email and contact.properties["phone"] == lead.phone
    assert contact.properties["firstname"] == "Jane"
    assert call.properties["hs_call_direction"] == "INBOUND" and call.properties["hs_call_duration"] == "185000"
    assert call.properties["hs_call_title"] == "AI voice agent call: qualified"
    assert "Caller: I&#x27;m looking to buy in Austin." in call.properties["hs_call_body"]
    assert task.properties["hs_task_subject"] == f"Follow up with Jane {lead.last_name}"
    assert call.associations == {("contacts", contact.id)} and task.associations == {("contacts", contact.id)}

    [delivery] = deliveries(wired, org)
    assert delivery.status is DeliveryStatus.SUCCEEDED and delivery.attempts == 1 and delivery.finished_at
    assert delivery.contact_remote_id == contact.id
    steps = [(a.step, a.succeeded, a.http_status, a.remote_id) for a in attempts(wired, org, delivery.id)]
    assert steps == [("contact", True, 200, contact.id), ("call", True, 201, call.id), ("task", True, 201, task.id)]
    assert [j.status for j in jobs_named(wired, FAN_OUT_JOB)] == [JobStatus.SUCCEEDED]
    assert [j.status for j in jobs_named(wired, DELIVER_JOB)] == [JobStatus.SUCCEEDED]

    # the outbox delivers events at least once: the same event again changes nothing
    publish(wired, org, [event])
    run_jobs(wired)
    assert len(fake.created) == 3 and len(deliveries(wired, org)) == 1


def test_an_appointment_is_booked_as_a_meeting_and_remote_ids_are_kept(wired, fake):
    org = make_org(wired, "acme")
    integration_id = make_integration(wired, org, credentials={"access_token": fake.access_token})
    [lead] = make_leads(wired, org, 1)
    starts = utcnow().replace(microsecond=0) + timedelta(days=2)
    with tenant_session(wired.sessions, org.id) as session:
        appointment = Appointment(lead_id=lead.id, starts_at=starts, timezone="America/Chicago", notes="Showing")
        session.add(appointment)
        session.commit()
    publish(wired, org, [completed_event(lead, outcome="appointment_set", appointment_id=str(appointment.id))])
    run_jobs(wired)

    [meeting] = fake.objects["meetings"].values()
    assert meeting.properties["hs_meeting_start_time"] == starts.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert meeting.properties["hs_meeting_body"] == "Showing"
    assert not fake.objects["tasks"]
    with tenant_session(wired.sessions, org.id) as session:
        records = {(r.kind, r.local_id): r.remote_id for r in session.scalars(sa.select(RemoteRecord))}
        assert records[(RemoteKind.APPOINTMENT, str(appointment.id))] == meeting.id
        assert records[(RemoteKind.CONTACT, str(lead.id))] in fake.objects["contacts"]
        assert all(r.integration_id == integration_id for r in session.scalars(sa.select(RemoteRecord)))


def test_each_enabled_integration_gets_its_own_delivery(wired, fake):
    other = FakeHubSpot(access_token="other-token", unique_properties=UNIQUE_PROPERTIES)
    transports = {  # two HubSpot accounts, told apart by their tokens
        f"Bearer {fake.access_token}": httpx.ASGITransport(app=fake.app),
        "Bearer other-token": httpx.ASGITransport(app=other.app),
    }

    async def by_account(request: httpx.Request) -> httpx.Response:
        return await transports[request.headers["authorization"]].handle_async_request(request)

    use_http(wired, lambda: httpx.AsyncClient(transport=httpx.MockTransport(by_account)))
    org = make_org(wired, "acme")
    make_integration(wired, org, credentials={"access_token": fake.access_token})
    make_integration(wired, org, credentials={"access_token": "other-token"})
    disabled = make_integration(wired, org, credentials={"access_token": "x"})
    with tenant_session(wired.sessions, org.id) as session:
        session.execute(sa.update(Integration).where(col(Integration.id) == disabled).values(enabled=False))
        session.commit()
    [lead] = make_leads(wired, org, 1)
    publish(wired, org, [completed_event(lead, outcome="not_interested")])
    run_jobs(wired)

    assert {d.status for d in deliveries(wired, org)} == {DeliveryStatus.SUCCEEDED}
    assert disabled not in {d.integration_id for d in deliveries(wired, org)}
    for crm in (fake, other):
        assert [o.object_type for o in crm.created] == ["contacts", "calls"]


def test_a_429_with_retry_after_is_retried_after_that_long(wired, fake):
    org = make_org(wired, "acme")
    make_integration(wired, org, credentials={"access_token": fake.access_token})
    [lead] = make_leads(wired, org, 1)
    fake.faults = FaultPlan(rate_limited_with_retry_after=1.0, retry_after_seconds=2)
    publish(wired, org, [completed_event(lead)])
    one_burst(wired)

    [delivery] = deliveries(wired, org)
    assert delivery.status is DeliveryStatus.RETRYING and delivery.vendor_status == 429
    assert delivery.vendor_code == "SECONDLY" and "You have reached your secondly limit." in (delivery.last_error or "")
    [job] = jobs_named(wired, DELIVER_JOB)
    assert job.status is JobStatus.PENDING
    assert 1.5 < (job.run_at - utcnow()).total_seconds() <= 2.0
    [refused] = attempts(wired, org, delivery.id)
    assert (refused.step, refused.succeeded, refused.http_status) == ("contact", False, 429)

    fake.faults = FaultPlan()
    run_jobs(wired)
    [delivery] = deliveries(wired, org)
    assert delivery.status is DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and delivery.last_error is None
    retried = attempts(wired, org, delivery.id)[1]
    assert (retried.created_at - refused.created_at).total_seconds() >= 1.9
    assert [o.object_type for o in fake.created] == ["contacts", "calls", "tasks"]


def test_429s_without_retry_after_and_500s_even_after_the_write_are_retried_into_one_record(wired, fake):
    org = make_org(wired, "acme")
    make_integration(wired, org, credentials={"access_token": fake.access_token}, field_mapping=IDEMPOTENT_FIELDS)
    leads = make_leads(wired, org, 5)
    fake.faults = FaultPlan(rate_limited_without_retry_after=0.15, server_error=0.1, server_error_after_write=0.1)
    publish(wired, org, [completed_event(lead) for lead in leads])
    run_jobs(wired)
    assert fake.answered[429] and fake.answered[500] > 1
    assert {d.status for d in deliveries(wired, org)} == {DeliveryStatus.SUCCEEDED}
    assert sorted(o.object_type for o in fake.created) == ["calls"] * 5 + ["contacts"] * 5 + ["tasks"] * 5


def test_the_throttle_keeps_workers_under_the_vendors_limit(wired, fake):
    fake.rate_limit = RateLimit(max_requests=5, window_seconds=1.0)
    org = make_org(wired, "acme")
    make_integration(wired, org, credentials={"access_token": fake.access_token}, rate_limit=(5, 1.0))
    leads = make_leads(wired, org, 3)
    publish(wired, org, [completed_event(lead) for lead in leads])
    started = time.monotonic()
    run_jobs(wired)
    assert fake.answered[429] == 0 and sum(fake.answered.values()) == 9
    assert time.monotonic() - started >= 2.0  # 4 per 1.01 s booked (5 less headroom): 9 requests need 2 windows

    # without a matching limit the same work collects 429s (and still lands once, after retries)
    fake.rate_limit = RateLimit(max_requests=2, window_seconds=1.0)
    org2 = make_org(wired, "other")
    make_integration(wired, org2, credentials={"access_token": fake.access_token}, rate_limit=(1000, 1.0))
    publish(wired, org2, [completed_event(lead) for lead in make_leads(wired, org2, 2)])
    run_jobs(wired)
    assert fake.answered[429] > 0


def test_a_permanent_error_is_dead_at_once_with_the_vendors_message(wired, fake):
    org = make_org(wired, "acme")
    make_integration(wired, org, credentials={"access_token": "revoked-token"})
    [lead] = make_leads(wired, org, 1)
    publish(wired, org, [completed_event(lead)])
    run_jobs(wired)
    [delivery] = deliveries(wired, org)
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == 1
    assert delivery.last_error == "hubspot: Authentication credentials not found. | HTTP 401 | INVALID_AUTHENTICATION"
    assert (delivery.vendor_status, delivery.vendor_code) == (401, "INVALID_AUTHENTICATION")
    [job] = jobs_named(wired, DELIVER_JOB)
    assert job.status is JobStatus.DEAD and job.attempts == 1
    assert not fake.created


def test_a_delivery_that_keeps_failing_dies_after_its_last_attempt(wired, fake):
    use_http(wired, asgi_client(fake.app), max_attempts=3)
    org = make_org(wired, "acme")
    make_integration(wired, org, credentials={"access_token": fake.access_token})
    [lead] = make_leads(wired, org, 1)
    fake.faults = FaultPlan(server_error=1.0)
    publish(wired, org, [completed_event(lead)])
    run_jobs(wired)
    [delivery] = deliveries(wired, org)
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == 3
    assert (delivery.last_error or "").startswith("gave up after 3 attempts: hubspot: internal error | HTTP 500")


def test_an_integration_disabled_after_the_call_leaves_a_dead_redrivable_delivery(wired, fake):
    org = make_org(wired, "acme")
    integration_id = make_integration(wired, org, credentials={"access_token": fake.access_token})
    [lead] = make_leads(wired, org, 1)
    fan_out(JobContext(wired, uuid.uuid4(), org.id, 1, completed_event(lead)))  # its delivery job is queued...

    def set_enabled(enabled: bool) -> None:
        with tenant_session(wired.sessions, org.id) as session:
            values = {"enabled": enabled}
            session.execute(sa.update(Integration).where(col(Integration.id) == integration_id).values(**values))
            session.commit()

    set_enabled(False)  # ...when the brokerage switches the integration off
    run_jobs(wired)
    [delivery] = deliveries(wired, org)
    assert delivery.status is DeliveryStatus.DEAD and not fake.created
    assert delivery.last_error == "the integration is disabled; enable it and re-drive"

    set_enabled(True)
    with tenant_session(wired.sessions, org.id) as session:
        dead = session.get(Delivery, delivery.id)
        assert dead is not None
        redrive(session, wired.jobs, dead, max_attempts=crm_runtime(wired).max_attempts)
        session.commit()
    run_jobs(wired)
    assert [d.status for d in deliveries(wired, org)] == [DeliveryStatus.SUCCEEDED]
    assert [o.object_type for o in fake.created] == ["contacts", "calls", "tasks"]


def _token_endpoint(fake: FakeHubSpot, grants: list[dict[str, str]]) -> Starlette:
    """The fake with HubSpot's OAuth v3 token endpoint in front: a refresh rotates both tokens."""

    async def token(request: Request) -> Response:
        form = dict(await request.form())
        grants.append({k: str(v) for k, v in form.items()})
        if form.get("refresh_token") != "refresh-1" or form.get("client_secret") != "client-secret":
            return JSONResponse({"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}, 400)
        fake.access_token = "access-2"
        body = {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 1800, "token_type": "bearer"}
        return JSONResponse(body)

    return Starlette(routes=[Route("/oauth/v3/token", token, methods=["POST"]), Mount("/", app=fake.app)])


def test_a_refreshed_oauth_token_is_stored_encrypted_for_the_next_delivery(wired, fake):
    grants: list[dict[str, str]] = []
    use_http(wired, asgi_client(_token_endpoint(fake, grants)))
    fake.access_token = "access-2"  # the expired token is refused
    org = make_org(wired, "acme")
    credentials = {"access_token": "access-1", "refresh_token": "refresh-1", "client_id": "client-id",
                   "client_secret": "client-secret", "expires_at": str(int(time.time()) - 60)}  # fmt: skip
    integration_id = make_integration(wired, org, credentials=credentials)
    leads = make_leads(wired, org, 2)
    publish(wired, org, [completed_event(leads[0])])
    run_jobs(wired)

    assert grants == [{"grant_type": "refresh_token", "client_id": "client-id", "client_secret": "client-secret",
                       "refresh_token": "refresh-1"}]  # fmt: skip
    with tenant_session(wired.sessions, org.id) as session:
        stored = session.get(Integration, integration_id)
        assert stored is not None and "access-2" not in stored.credentials and "refresh-2" not in stored.credentials
        opened = open_credentials(crm_runtime(wired).secret_box, stored.credentials)
    assert opened["access_token"] == "access-2" and opened["refresh_token"] == "refresh-2"
    assert float(opened["expires_at"]) > time.time() + 1700
    assert [d.status for d in deliveries(wired, org)] == [DeliveryStatus.SUCCEEDED]

    # the next delivery uses the stored token: no second refresh (the old refresh token is spent)
    publish(wired, org, [completed_event(leads[1])])
    run_jobs(wired)
    assert len(grants) == 1
    assert {d.status for d in deliveries(wired, org)} == {DeliveryStatus.SUCCEEDED}
