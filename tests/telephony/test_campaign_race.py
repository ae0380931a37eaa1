"""Two workers on one campaign never dial a lead twice: racing job runners, and racing claims in the database."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.models import Job
from seiketsu.jobs.runner import JobRunner
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony.campaigns.engine import Claim, claim_due
from telephony.campaigns.models import CampaignLead, CampaignLeadStatus
from telephony.campaigns.pacing import PacingConfig
from telephony.outbound_runtime import outbound_runtime
from tests.factories import login
from tests.telephony.outbound_support import (
    ALL_WEEK,
    NOW,
    FakeClock,
    FakeTwilio,
    add_leads,
    advance_to_next_tick,
    outbound_org,
    pending_jobs,
    use_clock,
    wait_for_dials,
)

TICK = "telephony.campaign.tick"
PHONES = [f"+1212555{n:04d}" for n in range(2000, 2080)]


@pytest.fixture
def clock(client: TestClient, container: Container) -> FakeClock:
    clock = FakeClock()
    use_clock(container, clock)
    outbound_runtime(container).pacing = PacingConfig(capacity_poll=timedelta(seconds=30))
    return clock


@pytest.fixture
def twilio(clock: FakeClock) -> Iterator[FakeTwilio]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


def _race(container: Container) -> None:
    """Two workers, each with its own job runner, run whatever is due until nothing is."""
    errors: list[BaseException] = []

    def work() -> None:
        runner = JobRunner(container, container.runner_config)
        try:
            while ids := runner.due(limit=50):
                for job_id in ids:
                    runner.run(job_id)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors, errors
    wait_for_dials(container)


def test_two_workers_racing_on_duplicated_ticks_dial_each_lead_once(
    client: TestClient, container: Container, clock: FakeClock, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, limit=100)
    add_leads(container, org, PHONES)
    headers = login(client, org)
    body = {"name": "Race", "schedule": ALL_WEEK, "leadFilter": {}, "callsPerMinute": 1200, "maxConcurrentCalls": 100}
    campaign_id = client.post("/api/v1/campaigns", headers=headers, json=body).json()["id"]
    assert client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=headers).status_code == 200
    [tick] = pending_jobs(container, TICK)
    with system_session(container.sessions) as session:
        for _ in range(5):  # redelivered copies of the same tick, as an at-least-once queue may hand out
            session.add(Job(organization_id=org.id, name=TICK, payload=dict(tick.payload), run_at=utcnow()))
        session.commit()
    for _ in range(20):
        _race(container)
        if len(twilio.calls) >= len(PHONES) or not advance_to_next_tick(container, clock):
            break
    dialed = Counter(call.to for call in twilio.calls)
    assert set(dialed) == set(PHONES) and set(dialed.values()) == {1}
    with system_session(container.sessions) as session:
        rows = list(session.scalars(sa.select(CampaignLead)))
    assert all(row.status is CampaignLeadStatus.DIALING and row.attempts == 1 for row in rows)


def test_concurrent_claims_take_disjoint_leads(client: TestClient, container: Container, clock: FakeClock) -> None:
    """Two transactions claim at the same moment: the second skips the rows the first holds, and neither
    takes a lead that is not pending."""
    org = outbound_org(container)
    add_leads(container, org, PHONES[:50])
    headers = login(client, org)
    body = {"name": "Claims", "schedule": ALL_WEEK, "leadFilter": {}}
    campaign_id = uuid.UUID(client.post("/api/v1/campaigns", headers=headers, json=body).json()["id"])
    both_claimed = threading.Barrier(2, timeout=20)
    taken: list[list[Claim]] = []

    def claim() -> None:
        with tenant_session(container.sessions, org.id) as session:
            found = claim_due(session, campaign_id, limit=30, due_by=NOW, now=NOW)
            taken.append(found)
            both_claimed.wait()  # hold the locks until the other transaction has claimed too
            session.commit()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    first, second = ({c.id for c in claims} for claims in taken)
    assert not first & second and len(first | second) == 50
    assert sorted(len(claims) for claims in taken) == [20, 30]
    with tenant_session(container.sessions, org.id) as session:
        statuses = Counter(session.scalars(sa.select(col(CampaignLead.status))))
        assert statuses == {CampaignLeadStatus.CLAIMED: 50}
        assert claim_due(session, campaign_id, limit=30, due_by=NOW, now=NOW) == []
