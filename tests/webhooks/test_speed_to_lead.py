"""Speed-to-lead: a new lead from a webhook is dialed after the organization's delay if the gate allows; otherwise
asked about again at nextAllowedAt, or blocked (compliance.blocked); every step is shown on the lead."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from seiketsu.container import Container
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session
from tests.factories import OrgFixture, login
from tests.telephony.outbound_support import NOW, FakeClock, FakeTwilio, outbound_org, run_jobs, use_clock
from tests.webhooks.support import create_source, enable_speed_to_lead, path_of, standard_headers, to_bytes

PHONE = "+12125550142"
CONSENT = {
    "text": "Call me, AI voice included.",
    "pageUrl": "https://lonestar.example/",
    "grantedAt": "2025-06-10T14:58:00Z",
}


@pytest.fixture
def clock(client: TestClient, container: Container) -> FakeClock:
    clock = FakeClock()
    use_clock(container, clock)
    return clock


@pytest.fixture
def twilio(clock: FakeClock) -> Iterator[FakeTwilio]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


def _submit(client: TestClient, org: OrgFixture, form: dict[str, Any]) -> None:
    source = create_source(client, login(client, org), provider="generic", name="Form")
    body = to_bytes(form)
    response = client.post(path_of(source), content=body, headers=standard_headers(source["secret"], body))
    assert response.status_code == 200, response.text


def _lead_id(container: Container) -> str:
    with system_session(container.sessions) as session:
        return str(session.scalars(sa.select(col(Lead.id))).one())


def _attempts(client: TestClient, org: OrgFixture, lead_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/leads/{lead_id}/speed-to-lead", headers=login(client, org))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_consenting_lead_in_calling_hours_is_dialed_at_once(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    enable_speed_to_lead(container, org)
    _submit(client, org, {"phone": PHONE, "firstName": "Dana", "consent": CONSENT})
    run_jobs(container)
    [call] = twilio.calls
    assert call.to == PHONE
    lead_id = _lead_id(container)
    shown = _attempts(client, org, lead_id)
    assert [a["outcome"] for a in shown["attempts"]] == ["scheduled", "dialed"]
    dialed = shown["attempts"][1]
    assert dialed["allowed"] is True and dialed["decisionId"] and dialed["callId"]
    assert shown["nextAttemptAt"] is None


def test_nothing_is_dialed_unless_the_organization_enables_it(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    _submit(client, org, {"phone": PHONE, "consent": CONSENT})
    run_jobs(container)
    assert twilio.calls == []
    assert _attempts(client, org, _lead_id(container))["attempts"] == []


def test_the_configured_delay_is_kept(client: TestClient, container: Container, twilio: FakeTwilio) -> None:
    org = outbound_org(container)
    enable_speed_to_lead(container, org, delay=120)
    _submit(client, org, {"phone": PHONE, "consent": CONSENT})
    run_jobs(container)
    assert twilio.calls == []
    with system_session(container.sessions) as session:
        [job] = session.scalars(sa.select(Job).where(col(Job.name) == "webhooks.speed_to_lead")).all()
    assert job.status == JobStatus.PENDING
    assert timedelta(seconds=100) < job.run_at - datetime.now(UTC) <= timedelta(seconds=120)


def test_a_lead_outside_calling_hours_is_asked_about_again_at_next_allowed_at(
    client: TestClient, container: Container, twilio: FakeTwilio, clock: FakeClock
) -> None:
    night = NOW.replace(hour=6)  # 02:00 in New York
    clock._now = night
    org = outbound_org(container)
    enable_speed_to_lead(container, org)
    _submit(client, org, {"phone": PHONE, "consent": {**CONSENT, "grantedAt": "2025-06-10T05:58:00Z"}})
    run_jobs(container)
    assert twilio.calls == []
    shown = _attempts(client, org, _lead_id(container))
    deferred = shown["attempts"][-1]
    assert deferred["outcome"] == "deferred" and deferred["allowed"] is False
    next_at = datetime.fromisoformat(deferred["nextAllowedAt"])
    assert next_at > night and shown["nextAttemptAt"] == deferred["nextAllowedAt"]
    with system_session(container.sessions) as session:
        [job] = session.scalars(
            sa.select(Job).where(col(Job.name) == "webhooks.speed_to_lead", col(Job.status) == JobStatus.PENDING)
        ).all()
    assert job.run_at - datetime.now(UTC) == pytest.approx(next_at - night, abs=timedelta(seconds=30))


def test_a_lead_without_consent_is_blocked_and_compliance_blocked_is_published(
    client: TestClient, container: Container, twilio: FakeTwilio, local_targets: None
) -> None:
    org = outbound_org(container)
    enable_speed_to_lead(container, org)
    # An organization with no endpoint publishes to nobody (no fan-out job): give it one.
    endpoint = {"url": "http://127.0.0.1:9/hooks", "events": ["lead.created", "compliance.blocked"]}
    created = client.post("/api/v1/webhook-endpoints", headers=login(client, org), json=endpoint)
    assert created.status_code == 201, created.text
    _submit(client, org, {"phone": PHONE})
    run_jobs(container)
    assert twilio.calls == []
    [scheduled, blocked] = _attempts(client, org, _lead_id(container))["attempts"]
    assert blocked["outcome"] == "blocked" and blocked["decisionId"] and "consent" in blocked["detail"]
    with system_session(container.sessions) as session:
        fan_outs = session.scalars(sa.select(Job).where(col(Job.name) == "webhooks.fan_out")).all()
    events = {job.payload["event"] for job in fan_outs}
    assert {"lead.created", "compliance.blocked"} <= events
