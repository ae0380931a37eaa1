"""Helpers for the outbound tests: simulated time shared by the gate and the dialer, Twilio's REST API faked at the
HTTP level (respx) with its documented request and answer shapes, an organization whose leads may be called, and
running the jobs with a real RQ worker."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from compliance.consent import ConsentKind
from compliance.internal_dnc import record_do_not_call
from compliance.ledger import Evidence, GrantSource, record_grant
from compliance.vocabulary import ConsentChannel, Purpose
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.jobs.rq_backend import RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner
from seiketsu.leads.models import Lead
from seiketsu.tenancy.models import NumberPurpose, Organization, PhoneNumber
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony.outbound_runtime import outbound_runtime
from tests.compliance.support import install_gate, registry_copy
from tests.factories import OrgFixture, make_org
from tests.telephony.conftest import twilio_post

# Tuesday 10 June 2025, 15:00 UTC: 11:00 in New York, inside every calling window.
NOW = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)
ACCOUNT = "AC" + "0" * 32
API = f"https://api.twilio.test/2010-04-01/Accounts/{ACCOUNT}"
INBOUND_NUMBER = "+12125550100"
OUTBOUND_NUMBER = "+12125550101"
ALL_WEEK = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}


class FakeClock:
    """Simulated time: sleeping moves it forward at once. The gate calls it; the dialer uses ``now``."""

    def __init__(self, now: datetime = NOW) -> None:
        self._now = now
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def __call__(self) -> datetime:
        return self.now()

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = max(self._now, moment)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    async def sleep_until(self, moment: datetime) -> None:
        self.set(moment)


@dataclass
class RecordingObserver:
    """What the dialer reports: each dial's planned and actual dispatch time, and each tick's costs."""

    dials: list[tuple[datetime, datetime]] = field(default_factory=list)
    ticks: list[tuple[int, float, float]] = field(default_factory=list)

    def dialed(self, *, planned: datetime, actual: datetime) -> None:
        self.dials.append((planned, actual))

    def tick(self, *, dials: int, gate_seconds: float, overhead_seconds: float) -> None:
        self.ticks.append((dials, gate_seconds, overhead_seconds))


def use_clock(container: Container, clock: FakeClock) -> None:
    """The gate and the outbound runtime on the same simulated time (after the app has wired the container)."""
    install_gate(container, clock=clock)  # type: ignore[arg-type]
    outbound_runtime(container).clock = clock


def call_json(sid: str, *, to: str, from_: str, status: str = "queued") -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "to": to,
        "from": from_,
        "status": status,
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{sid}.json",
    }


def message_json(sid: str, *, to: str, from_: str, body: str) -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "to": to,
        "from": from_,
        "body": body,
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json",
    }


def error_json(code: int, status: int, message: str) -> dict[str, Any]:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


@dataclass
class PlacedCall:
    sid: str
    to: str
    from_: str
    form: dict[str, list[str]]
    at: datetime


@dataclass
class FakeTwilio:
    """Twilio's Calls and Messages resources: records each request, answers as Twilio documents it."""

    clock: FakeClock | None = None
    calls: list[PlacedCall] = field(default_factory=list)
    messages: list[dict[str, list[str]]] = field(default_factory=list)
    updates: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    call_errors: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    """By called number: (HTTP status, Twilio code, message)."""
    message_errors: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    max_live: int = 0
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, router: respx.Router) -> FakeTwilio:
        router.post(f"{API}/Calls.json").mock(side_effect=self._create_call)
        router.post(url__regex=rf"^{API}/Calls/(?P<sid>CA\w+)\.json$").mock(side_effect=self._update_call)
        router.post(f"{API}/Messages.json").mock(side_effect=self._create_message)
        return self

    def _create_call(self, request: httpx.Request) -> httpx.Response:
        form = _form(request)
        to, from_ = form["To"][0], form["From"][0]
        if to in self.call_errors:
            status, code, message = self.call_errors[to]
            return httpx.Response(status, json=error_json(code, status, message))
        with self._lock:
            sid = f"CA{next(self._ids):032x}"
            at = self.clock.now() if self.clock else utcnow()
            self.calls.append(PlacedCall(sid=sid, to=to, from_=from_, form=form, at=at))
            self.live.add(sid)
            self.max_live = max(self.max_live, len(self.live))
        return httpx.Response(201, json=call_json(sid, to=to, from_=from_))

    def _update_call(self, request: httpx.Request, sid: str) -> httpx.Response:
        form = _form(request)
        with self._lock:
            self.updates.append((sid, form))
        placed = self.call(sid)
        return httpx.Response(200, json=call_json(sid, to=placed.to if placed else "", from_="", status="in-progress"))

    def _create_message(self, request: httpx.Request) -> httpx.Response:
        form = _form(request)
        to, from_ = form["To"][0], form["From"][0]
        if to in self.message_errors:
            status, code, message = self.message_errors[to]
            return httpx.Response(status, json=error_json(code, status, message))
        with self._lock:
            self.messages.append(form)
            sid = f"SM{next(self._ids):032x}"
        return httpx.Response(201, json=message_json(sid, to=to, from_=from_, body=form["Body"][0]))

    def call(self, sid: str) -> PlacedCall | None:
        return next((c for c in self.calls if c.sid == sid), None)

    def dialed(self, number: str) -> list[PlacedCall]:
        return [c for c in self.calls if c.to == number]

    def finish(self, client: TestClient, sid: str, status: str, *, duration: int = 30) -> None:
        """Twilio's final status callback for a call it placed, to the URL it was given."""
        placed = self.call(sid)
        assert placed is not None
        url = urlsplit(placed.form["StatusCallback"][0])
        params = {
            "CallSid": sid,
            "AccountSid": ACCOUNT,
            "From": placed.from_,
            "To": placed.to,
            "CallStatus": status,
            "Direction": "outbound-api",
            "CallDuration": str(duration if status == "completed" else 0),
        }
        response = twilio_post(client, f"{url.path}?{url.query}", params)
        assert response.status_code == 204, response.text
        with self._lock:
            self.live.discard(sid)

    def answer_machine(self, client: TestClient, sid: str, answered_by: str) -> None:
        placed = self.call(sid)
        assert placed is not None
        url = urlsplit(placed.form["AsyncAmdStatusCallback"][0])
        params = {"CallSid": sid, "AccountSid": ACCOUNT, "AnsweredBy": answered_by, "MachineDetectionDuration": "4200"}
        response = twilio_post(client, f"{url.path}?{url.query}", params)
        assert response.status_code == 204, response.text


def _form(request: httpx.Request) -> dict[str, list[str]]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode(), keep_blank_values=True)


def outbound_org(
    container: Container,
    *,
    slug: str = "lonestar",
    limit: int = 10,
    settings: dict[str, Any] | None = None,
    outbound: bool = True,
) -> OrgFixture:
    """An organization in New York with an inbound number and, unless told otherwise, an outbound one."""
    org = make_org(container, slug, numbers=(INBOUND_NUMBER,))
    with system_session(container.sessions) as session:
        record = session.get(Organization, org.id)
        assert record is not None
        record.name = "Lone Star Realty"
        record.settings = dict(settings or {})
        record.max_concurrent_calls = limit
        number = session.scalars(sa.select(PhoneNumber).where(col(PhoneNumber.e164) == INBOUND_NUMBER)).one()
        number.purpose = NumberPurpose.INBOUND
        if outbound:
            session.add(PhoneNumber(organization_id=org.id, e164=OUTBOUND_NUMBER, purpose=NumberPurpose.OUTBOUND))
        session.commit()
    registry_copy(container, org.id, area_codes=("212", "213", "646"), as_of=NOW.date() - timedelta(days=5))
    return org


def add_leads(
    container: Container,
    org: OrgFixture,
    phones: Iterable[str],
    *,
    consent: bool = True,
    first_name: str = "Dana",
) -> dict[str, uuid.UUID]:
    """Leads with written consent to AI-voice calls and texts (granted 180 days before ``NOW``)."""
    ids: dict[str, uuid.UUID] = {}
    with tenant_session(container.sessions, org.id) as session:
        for phone in phones:
            lead = Lead(phone=phone, first_name=first_name, source="web_form")
            session.add(lead)
            ids[phone] = lead.id
            if consent:
                record_grant(
                    session,
                    phone=phone,
                    kind=ConsentKind.WRITTEN,
                    channels=tuple(ConsentChannel),
                    purposes=tuple(Purpose),
                    source=GrantSource.WEB_FORM,
                    granted_at=NOW - timedelta(days=180),
                    evidence=Evidence(form_url="https://brokerage.example/contact", text_shown="I agree."),
                    recorded_by="user:test",
                )
        session.commit()
    return ids


def put_on_dnc(container: Container, org: OrgFixture, phones: Iterable[str]) -> None:
    with tenant_session(container.sessions, org.id) as session:
        for phone in phones:
            record_do_not_call(session, phone=phone, source="api", requested_at=NOW - timedelta(days=1))
        session.commit()


def run_jobs(container: Container) -> None:
    """Run every job that is due, with a real RQ worker in burst mode."""
    assert isinstance(container.jobs.dispatcher, RQDispatcher)
    RQWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher).work(burst=True)
    wait_for_dials(container)


def wait_for_dials(container: Container) -> None:
    """Wait until the dial dispatcher has placed every call the ticks run so far reserved."""
    assert outbound_runtime(container).dispatcher.wait_idle(timeout=60), "campaign dials still in flight"


def drain_jobs(container: Container) -> None:
    """Run every job that is due with the job runner itself, without the queue's transport (a long simulation
    spends its time on Redis round trips otherwise); the runner claims, runs and retries exactly as under RQ."""
    runner = JobRunner(container, container.runner_config)
    while ids := runner.due(limit=500):
        for job_id in ids:
            runner.run(job_id)
        wait_for_dials(container)


def pending_jobs(container: Container, name: str) -> list[Job]:
    with system_session(container.sessions) as session:
        query = sa.select(Job).where(col(Job.name) == name, col(Job.status) == JobStatus.PENDING)
        return list(session.scalars(query.order_by(col(Job.run_at))))


def advance_to_next_tick(container: Container, clock: FakeClock, job_name: str = "telephony.campaign.tick") -> bool:
    """Let simulated time reach the next queued tick and make that job due now; False when none is queued."""
    ticks = pending_jobs(container, job_name)
    if not ticks:
        return False
    tick = min(ticks, key=lambda job: job.payload["at"])
    clock.set(datetime.fromisoformat(tick.payload["at"]))
    with system_session(container.sessions) as session:
        session.execute(sa.update(Job).where(col(Job.id) == tick.id).values(run_at=utcnow(), dispatched_at=None))
        session.commit()
    return True
