"""A campaign dialing through the real job worker against a faked Twilio, on simulated time: every dial is
permitted by the gate, paced, within the concurrency limit; pause and resume; retries on busy and no-answer only."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from compliance.models import GateDecision
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.tenancy.scoping import system_session
from telephony.campaigns.models import Campaign, CampaignLead, CampaignLeadStatus
from telephony.campaigns.pacing import PacingConfig
from telephony.outbound_runtime import outbound_runtime
from tests.factories import login
from tests.telephony.outbound_support import (
    ALL_WEEK,
    FakeClock,
    FakeTwilio,
    RecordingObserver,
    add_leads,
    advance_to_next_tick,
    drain_jobs,
    outbound_org,
    pending_jobs,
    put_on_dnc,
    run_jobs,
    use_clock,
)

TICK = "telephony.campaign.tick"
PHONES = [f"+1212555{n:04d}" for n in range(1000, 1500)]
ON_DNC = set(PHONES[0::5])  # 100 leads on the internal Do-Not-Call list
NO_CONSENT = set(PHONES[1::5]) | set(PHONES[2::5]) | set(PHONES[3::10])  # 250 who never agreed to AI-voice calls
BLOCKED = ON_DNC | NO_CONSENT


def twilio_outcome(phone: str) -> str:
    """What each number does when called, every time: busy, no answer, an answering machine, or a person."""
    return ("busy", "no-answer", "machine", "completed", "completed", "completed", "completed", "failed")[
        int(phone[-4:]) % 8
    ]


@pytest.fixture
def clock(client: TestClient, container: Container) -> FakeClock:
    clock = FakeClock()
    use_clock(container, clock)
    # Simulated time moves only when the test says so: a campaign waiting for a free line looks again at the
    # next step rather than every (real) second.
    outbound_runtime(container).pacing = PacingConfig(capacity_poll=timedelta(seconds=30))
    return clock


@pytest.fixture
def twilio(clock: FakeClock) -> Iterator[FakeTwilio]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


def _campaign(client: TestClient, headers: dict[str, str], **settings: Any) -> str:
    body = {"name": "Spring sellers", "schedule": ALL_WEEK, "leadFilter": {}, **settings}
    response = client.post("/api/v1/campaigns", headers=headers, json=body)
    assert response.status_code == 201, response.text
    campaign_id: str = response.json()["id"]
    assert client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=headers).status_code == 200
    return campaign_id


def _finish_some(client: TestClient, twilio: FakeTwilio, count: int) -> None:
    """Twilio reports the end of the ``count`` oldest calls still up."""
    live = [call for call in twilio.calls if call.sid in twilio.live][:count]
    for call in live:
        outcome = twilio_outcome(call.to)
        if outcome == "machine":
            twilio.answer_machine(client, call.sid, "machine_end_beep")
            twilio.finish(client, call.sid, "completed", duration=20)
        else:
            twilio.finish(client, call.sid, outcome)


def _rows(container: Container) -> dict[str, CampaignLead]:
    with system_session(container.sessions) as session:
        return {row.phone: row for row in session.scalars(sa.select(CampaignLead))}


@pytest.mark.slow
def test_a_500_lead_campaign_is_compliant_paced_and_bounded(
    client: TestClient, container: Container, clock: FakeClock, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, limit=25)
    add_leads(container, org, [phone for phone in PHONES if phone not in NO_CONSENT])
    add_leads(container, org, NO_CONSENT, consent=False)
    put_on_dnc(container, org, ON_DNC)
    headers = login(client, org)
    observer = RecordingObserver()
    outbound_runtime(container).observer = observer
    container.jobs.registry.register("test.on_blocked", lambda context: None)
    container.events.subscribe("compliance.blocked", "test.on_blocked")
    campaign_id = _campaign(
        client, headers, callsPerMinute=600, maxConcurrentCalls=20, maxAttempts=2, retryDelayMinutes=10
    )
    paused_at: int | None = None

    def completed() -> bool:
        drain_jobs(container)
        body = client.get(f"/api/v1/campaigns/{campaign_id}", headers=headers).json()
        return bool(body["status"] == "completed")

    for _ in range(400):
        if completed():
            break
        if paused_at is None and len(twilio.calls) >= 60:
            assert client.post(f"/api/v1/campaigns/{campaign_id}/pause", headers=headers).status_code == 200
            paused_at = len(twilio.calls)
            _finish_some(client, twilio, 100)
            clock.advance(1800)
            drain_jobs(container)
            if advance_to_next_tick(container, clock):
                drain_jobs(container)
            assert len(twilio.calls) == paused_at, "a paused campaign dials no one"
            assert client.post(f"/api/v1/campaigns/{campaign_id}/resume", headers=headers).status_code == 200
            continue
        _finish_some(client, twilio, 12)
        if completed():
            break
        if not advance_to_next_tick(container, clock):
            raise AssertionError("a running campaign has no tick queued")
    else:
        raise AssertionError("the campaign did not complete")

    dialed = Counter(call.to for call in twilio.calls)
    assert not BLOCKED & set(dialed), "no lead the gate blocks is ever dialed"
    for phone in set(PHONES) - BLOCKED:
        expected = 2 if twilio_outcome(phone) in ("busy", "no-answer") else 1
        assert dialed[phone] == expected, f"{phone} ({twilio_outcome(phone)}) dialed {dialed[phone]} times"

    assert len(observer.dials) == len(twilio.calls)
    times = sorted(actual for _, actual in observer.dials)
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= timedelta(seconds=0.1), "600 calls a minute: one every tenth of a second at most"
    assert all(actual == planned for planned, actual in observer.dials), "on simulated time, each dial is on plan"
    assert twilio.max_live <= 20, "never more calls up at once than the campaign allows"
    for phone in dialed:
        attempts = sorted(call.at for call in twilio.dialed(phone))
        if len(attempts) == 2:
            # Twilio sees the simulated time a little after the dial's slot (its tick sleeps through a window).
            assert attempts[1] - attempts[0] >= timedelta(minutes=10, seconds=-3), "a retry waits for the delay"

    rows = _rows(container)
    with system_session(container.sessions) as session:
        decisions = {str(d.id): d for d in session.scalars(sa.select(GateDecision))}
    for phone in BLOCKED:
        row = rows[phone]
        reason = "federal.internal_dnc" if phone in ON_DNC else "federal.consent.written"
        assert row.status is CampaignLeadStatus.BLOCKED and reason in row.detail, row.detail
        assert row.decision_id is not None and not decisions[row.decision_id].allowed
    for phone in set(PHONES) - BLOCKED:
        assert rows[phone].status is CampaignLeadStatus.DONE and rows[phone].attempts == dialed[phone]
        assert decisions[rows[phone].decision_id or ""].allowed
    with system_session(container.sessions) as session:
        events = list(session.scalars(sa.select(col(Job.payload)).where(col(Job.name) == "test.on_blocked")))
    assert sorted(e["phone"] for e in events) == sorted(BLOCKED), "each blocked lead is published once"
    assert {e["context"] for e in events} == {f"campaign:{campaign_id}"}

    body = client.get(f"/api/v1/campaigns/{campaign_id}", headers=headers).json()
    classes = Counter(twilio_outcome(phone) for phone in set(PHONES) - BLOCKED)
    assert body["progress"] == {
        "total": 500, "pending": 0, "dialing": 0, "done": 150, "blocked": 350, "failed": 0, "canceled": 0,
        "callsPlaced": len(twilio.calls), "percentComplete": 100.0,
    }  # fmt: skip
    assert body["outcomes"] == {
        "no_answer": classes["busy"] + classes["no-answer"],
        "voicemail": classes["machine"],
        "failed": classes["completed"] + classes["failed"],
    }


def test_a_lead_outside_its_calling_window_is_rescheduled_to_the_gates_next_allowed_moment(
    client: TestClient, container: Container, clock: FakeClock, twilio: FakeTwilio
) -> None:
    clock_start = clock.now()  # 11:00 in New York; 8:00 in Los Angeles, where artificial voices wait for 9:00
    new_york, los_angeles = "+12125550142", "+12135550142"
    org = outbound_org(container)
    add_leads(container, org, [new_york, los_angeles])
    _campaign(client, login(client, org), callsPerMinute=60)
    run_jobs(container)
    assert [call.to for call in twilio.calls] == [new_york]
    row = _rows(container)[los_angeles]
    with system_session(container.sessions) as session:
        decision = session.get(GateDecision, row.decision_id)
    assert decision is not None and not decision.allowed and decision.next_allowed_at is not None
    assert row.status is CampaignLeadStatus.PENDING and row.next_attempt_at == decision.next_allowed_at
    assert row.next_attempt_at > clock_start and row.attempts == 0
    for _ in range(5):
        if not advance_to_next_tick(container, clock) or len(twilio.calls) == 2:
            break
        run_jobs(container)
    [_, second] = twilio.calls
    assert second.to == los_angeles and second.at >= decision.next_allowed_at
    assert _rows(container)[los_angeles].status is CampaignLeadStatus.DIALING


def test_a_running_campaign_whose_tick_was_lost_is_restarted_by_the_next_outcome(
    client: TestClient, container: Container, clock: FakeClock, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    add_leads(container, org, ["+12125550142", "+12125550143"])
    headers = login(client, org)
    campaign_id = _campaign(client, headers, callsPerMinute=60, maxConcurrentCalls=1)
    run_jobs(container)
    assert len(twilio.calls) == 1
    with system_session(container.sessions) as session:
        session.execute(sa.update(Job).where(col(Job.name) == TICK).values(status=JobStatus.DEAD))
        session.commit()
    clock.advance(600)
    twilio.finish(client, twilio.calls[0].sid, "completed")
    run_jobs(container)
    [tick] = pending_jobs(container, TICK)
    with system_session(container.sessions) as session:
        campaign = session.get(Campaign, uuid.UUID(campaign_id))
    assert campaign is not None and tick.payload["seq"] == campaign.tick_seq
    advance_to_next_tick(container, clock)
    run_jobs(container)
    assert sorted(call.to for call in twilio.calls) == ["+12125550142", "+12125550143"]


def test_a_duplicated_or_stale_tick_does_nothing(
    client: TestClient, container: Container, clock: FakeClock, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    add_leads(container, org, [f"+1212555{n:04d}" for n in range(100, 130)])
    campaign_id = _campaign(client, login(client, org), callsPerMinute=600, maxConcurrentCalls=10)
    [tick] = pending_jobs(container, TICK)
    with system_session(container.sessions) as session:
        for _ in range(3):  # the at-least-once queue hands the same tick out again
            session.add(Job(organization_id=org.id, name=TICK, payload=dict(tick.payload), run_at=utcnow()))
        session.add(Job(organization_id=org.id, name=TICK, payload={**tick.payload, "seq": 0}, run_at=utcnow()))
        session.commit()
    run_jobs(container)
    assert len(twilio.calls) == 10 and len(set(call.to for call in twilio.calls)) == 10
    with system_session(container.sessions) as session:
        campaign = session.get(Campaign, uuid.UUID(campaign_id))
    assert campaign is not None and len(pending_jobs(container, TICK)) == 1
    assert pending_jobs(container, TICK)[0].payload["seq"] == campaign.tick_seq
