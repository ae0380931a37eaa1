"""POST /api/v1/compliance/check end to end on PostgreSQL: at least one scenario per rule, each naming its rule.

Facts are put in place the way the product records them: consents and Do-Not-Call requests through the API,
registry copies through the importer, leads through the leads API, earlier attempts as permits of the gate.
The gate runs on a fixed clock: Tuesday 10 June 2025, 15:00 UTC (11:00 in New York).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from compliance.audit import Requester, checks_of
from compliance.facts import ReassignedNumberResult, ReassignedStatus
from compliance.models import GateDecision
from compliance.reassigned import StaticReassignedNumbers
from compliance.service import ComplianceGate
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.tenancy.scoping import tenant_session
from tests.compliance.support import (
    CONSENT_AT,
    NOW,
    NY_PHONE,
    blocking,
    check,
    grant,
    install_gate,
    registry_copy,
    verdicts,
)
from tests.factories import OrgFixture, login, make_org

FL_PHONE = "+18505550134"  # Florida, a split area code (Eastern and Central)
MS_PHONE = "+16015550134"  # Mississippi
TX_PHONE = "+15125550134"  # Texas
LA_PHONE = "+15045550134"  # Louisiana


@dataclass
class World:
    client: TestClient
    container: Container
    org: OrgFixture
    headers: dict[str, str]
    gate: ComplianceGate

    def grant(self, phone: str = NY_PHONE, **kwargs: Any) -> None:
        grant(self.client, self.headers, phone, **kwargs)

    def copy(self, *, numbers: tuple[str, ...] = (), area_codes: tuple[str, ...] = ("212",), **kwargs: Any) -> None:
        registry_copy(self.container, self.org.id, numbers=numbers, area_codes=area_codes, **kwargs)

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        response = self.client.post(path, headers=self.headers, json=body)
        assert response.status_code == status, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def lead(self, phone: str, **fields: Any) -> str:
        body = {"phone": phone, **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}}
        return str(self.post("/api/v1/leads", body)["id"])

    def permits(self, phone: str, count: int) -> None:
        for _ in range(count):
            decision, permit = self.gate.permit(
                self.org.id,
                phone=phone,
                channel=Channel.VOICE,
                voice=VoiceKind.ARTIFICIAL,
                purpose=Purpose.MARKETING,
                requester=Requester.system("dialer"),
            )
            assert permit is not None, decision.blocking


Step = Callable[[World], object]


@dataclass(frozen=True)
class Scenario:
    name: str
    rule: str
    expect: str
    """The named rule's verdict."""
    allowed: bool
    setup: tuple[Step, ...] = ()
    body: dict[str, Any] = field(default_factory=dict)
    next_allowed_at: datetime | None = None


def copy(**kwargs: Any) -> Step:
    return lambda world: world.copy(**kwargs)


def consent(phone: str = NY_PHONE, **kwargs: Any) -> Step:
    return lambda world: world.grant(phone, **kwargs)


def post(path: str, body: dict[str, Any]) -> Step:
    return lambda world: world.post(path, body)


def lead(phone: str = NY_PHONE, **fields: Any) -> Step:
    return lambda world: world.lead(phone, **fields)


def permits(phone: str, count: int) -> Step:
    return lambda world: world.permits(phone, count)


def state_copies(phone: str, state: str, *, listed: bool = False, consent: bool = True) -> Step:
    """Fresh national and state copies of the number's area code, and (unless told otherwise) written consent."""
    digits = phone[2:]

    def setup(world: World) -> None:
        world.copy(area_codes=(digits[:3],))
        world.copy(area_codes=(digits[:3],), list_name=f"state:{state}", numbers=(digits,) if listed else ())
        if consent:
            world.grant(phone)

    return setup


LISTED = copy(numbers=("2125550134",))
DAYS = timedelta(days=1)

SCENARIOS = [
    Scenario("voice call without a voice kind", "gate.input", "block", False, body={"voice": None}),
    Scenario("not a phone number", "phone.valid", "block", False, body={"phone": "555-01"}),
    Scenario("a UK number", "jurisdiction", "block", False, (copy(),), {"phone": "+442071838750"}),
    Scenario("AI marketing call without consent", "federal.consent.written", "block", False, (copy(),)),
    Scenario("AI marketing call with express consent only", "federal.consent.written", "block", False,
             (copy(), consent(kind="prior_express"))),
    Scenario("AI informational call with express consent", "federal.consent.express", "pass", True,
             (consent(kind="prior_express"),), {"purpose": "informational"}),
    Scenario("AI informational call without consent", "federal.consent.express", "block", False,
             body={"purpose": "informational"}),
    Scenario("live informational call needs no consent", "federal.consent.revocation", "pass", True,
             body={"voice": "live", "purpose": "informational"}),
    Scenario("live call after a revocation through the API", "federal.consent.revocation", "block", False,
             (post("/api/v1/consents/revoke", {"phone": NY_PHONE, "method": "agent",
                                               "revokedAt": (NOW - DAYS).isoformat()}),),
             {"voice": "live", "purpose": "informational"}),
    Scenario("number on the internal list", "federal.internal_dnc", "block", False,
             (copy(), consent(), post("/api/v1/dnc", {"phone": NY_PHONE, "source": "agent"}))),
    # 47 CFR 64.1200(c)(2)(ii): signed written consent exempts from a listing whatever the order of the two.
    Scenario("number on the national registry, written consent older than the copy", "federal.national_dnc", "pass",
             True, (LISTED, consent())),
    Scenario("number listed since before the written consent", "federal.national_dnc", "pass", True,
             # Listed in a copy of 300 days ago and still in the fresh one; consent is 180 days old.
             (copy(numbers=("2125550134",), as_of=NOW.date() - 300 * DAYS), LISTED, consent())),
    Scenario("written consent revoked after the listing", "federal.national_dnc", "block", False,
             (LISTED, consent(), post("/api/v1/consents/revoke", {"phone": NY_PHONE, "method": "agent",
                                                                  "revokedAt": (NOW - 2 * DAYS).isoformat()}))),
    Scenario("number on the national registry, live call without consent", "federal.national_dnc", "block", False,
             (LISTED,), {"voice": "live"}),
    Scenario("registry copy 40 days old", "federal.dnc_registry_copy", "block", False,
             (copy(as_of=NOW.date() - 40 * DAYS), consent())),
    Scenario("no registry copy of the area code", "federal.national_dnc", "block", False,
             (copy(area_codes=("646",)), consent())),
    Scenario("toll-free number without an address", "time_zone", "block", False,
             (consent("+18005550134", kind="prior_express"),), {"phone": "+18005550134", "purpose": "informational"}),
    Scenario("03:00 in New York", "US.calling_hours", "block", False, (copy(), consent()),
             {"at": NOW + timedelta(hours=12)}, next_allowed_at=datetime.fromisoformat("2025-06-11T12:00:00+00:00")),
    Scenario("text at 21:30 in New York", "US.calling_hours", "block", False, (copy(), consent()),
             {"channel": "sms", "voice": None, "at": NOW + timedelta(hours=10, minutes=30)}),
    Scenario("20:30 Eastern in a Florida split area code", "FL.calling_hours", "block", False,
             (state_copies(FL_PHONE, "FL"),), {"phone": FL_PHONE, "at": NOW + timedelta(hours=9, minutes=30)}),
    Scenario("fourth marketing call in 24 hours to Florida", "FL.frequency_cap", "block", False,
             (state_copies(FL_PHONE, "FL"), permits(FL_PHONE, 3)), {"phone": FL_PHONE}),
    Scenario("third marketing call in 24 hours to Florida", "FL.frequency_cap", "pass", True,
             (state_copies(FL_PHONE, "FL"), permits(FL_PHONE, 2)), {"phone": FL_PHONE}),
    Scenario("Texas number on the Texas list, live call without consent", "TX.dnc_list", "block", False,
             (state_copies(TX_PHONE, "TX", listed=True, consent=False),), {"phone": TX_PHONE, "voice": "live"}),
    Scenario("Texas number on the Texas list, written consent", "TX.dnc_list", "pass", True,
             (state_copies(TX_PHONE, "TX", listed=True),), {"phone": TX_PHONE}),
    Scenario("Louisiana on a Sunday", "LA.calling_hours", "block", False, (state_copies(LA_PHONE, "LA"),),
             {"phone": LA_PHONE, "at": datetime.fromisoformat("2025-06-15T16:00:00+00:00")}),
    Scenario("Mississippi AI marketing call without a relationship", "MS.recorded_voice_ebr", "block", False,
             (state_copies(MS_PHONE, "MS"),), {"phone": MS_PHONE}),
    Scenario("Mississippi AI marketing call after an inquiry", "MS.recorded_voice_ebr", "pass", True,
             (state_copies(MS_PHONE, "MS"), lead(MS_PHONE, last_inquiry_at=NOW - 20 * DAYS)), {"phone": MS_PHONE}),
    Scenario("live call to a listed number, inquiry a month ago", "federal.national_dnc", "pass", True,
             (LISTED, lead(last_inquiry_at=NOW - 30 * DAYS)), {"voice": "live"}),
    Scenario("live call to a listed number, inquiry four months ago", "federal.national_dnc", "block", False,
             (LISTED, lead(last_inquiry_at=NOW - 125 * DAYS)), {"voice": "live"}),
    Scenario("live call to a listed number, transaction a year ago", "federal.national_dnc", "pass", True,
             (LISTED, lead(last_transaction_at=NOW - 365 * DAYS)), {"voice": "live"}),
    Scenario("relationship ended by a Do-Not-Call request, later withdrawn", "federal.national_dnc", "block", False,
             (LISTED, lead(last_inquiry_at=NOW - 30 * DAYS),
              post("/api/v1/dnc", {"phone": NY_PHONE, "requestedAt": (NOW - 10 * DAYS).isoformat()}),
              post("/api/v1/dnc/withdrawals", {"phone": NY_PHONE, "reason": "asked to be called about the listing"})),
             {"voice": "live"}),
    Scenario("AI call: a relationship never exempts from the registry", "federal.national_dnc", "block", False,
             (LISTED, lead(last_inquiry_at=NOW - 30 * DAYS))),
]  # fmt: skip


@pytest.fixture
def world(client: TestClient, container: Container) -> World:
    org = make_org(container, "acme")
    return World(client=client, container=container, org=org, headers=login(client, org), gate=install_gate(container))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(world: World, scenario: Scenario) -> None:
    for step in scenario.setup:
        step(world)
    body = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in scenario.body.items()}
    answer = check(world.client, world.headers, **body)
    found = verdicts(answer)
    assert found.get(scenario.rule) == scenario.expect, answer["checks"]
    assert answer["allowed"] is scenario.allowed, answer["checks"]
    if scenario.next_allowed_at is not None:
        assert datetime.fromisoformat(answer["nextAllowedAt"]) == scenario.next_allowed_at


def test_a_consented_call_is_allowed_and_every_check_is_cited_and_audited(world: World) -> None:
    world.grant()
    world.copy(numbers=("2125550199",))
    answer = check(world.client, world.headers, at=NOW.isoformat())
    assert answer["allowed"] is True, answer
    assert "nextAllowedAt" not in answer
    assert all(item["citation"] and item["detail"] for item in answer["checks"])
    with tenant_session(world.container.sessions, world.org.id) as session:
        row = session.get(GateDecision, answer["decisionId"])
        assert row is not None
        assert row.allowed and row.phone == NY_PHONE and row.requested_by_kind == "user"
        assert row.permit_expires_at is None  # advice: no permit, no attempt
        assert [c["rule"] for c in checks_of(session, row)] == [c["rule"] for c in answer["checks"]]
        assert row.rulebook_version == world.gate.rulebook.version


def test_a_disconnected_number_per_the_reassigned_numbers_database_is_blocked(world: World) -> None:
    consent_day = CONSENT_AT.date()
    answers = {
        NY_PHONE: ReassignedNumberResult(
            status=ReassignedStatus.DISCONNECTED, queried_since=consent_day, disconnected_on=date(2025, 5, 1)
        )
    }
    install_gate(world.container, reassigned=StaticReassignedNumbers(answers))
    world.grant()
    world.copy()
    answer = check(world.client, world.headers)
    assert verdicts(answer)["federal.reassigned_numbers"] == "block"
    assert answer["allowed"] is False


def test_an_unknown_lead_is_blocked_and_recorded(world: World) -> None:
    world.grant()
    world.copy()
    answer = check(world.client, world.headers, leadId="0b7c1f0e-4a43-4b8e-9d64-3a8f6f1c2f11")
    assert blocking(answer) == {"gate.input"}
    assert "not found" in answer["checks"][0]["detail"]
    with tenant_session(world.container.sessions, world.org.id) as session:
        assert session.get(GateDecision, answer["decisionId"]) is not None


def test_another_organizations_lead_is_not_found(world: World) -> None:
    other = make_org(world.container, "other")
    other_lead = World(world.client, world.container, other, login(world.client, other), world.gate).lead(NY_PHONE)
    answer = check(world.client, world.headers, leadId=other_lead, voice="live", purpose="informational")
    assert blocking(answer) == {"gate.input"}


def test_a_lead_with_another_number_lends_no_relationship(world: World) -> None:
    lead_id = world.lead("+12125550177", last_inquiry_at=NOW - timedelta(days=10))
    world.copy(numbers=("2125550134",))
    answer = check(world.client, world.headers, voice="live", leadId=lead_id)
    assert blocking(answer) == {"gate.input"}


def test_the_address_given_adds_its_state_rules(world: World) -> None:
    # A New York number whose owner lives in Florida: 20:30 Eastern is past Florida's 20:00.
    state_copies(NY_PHONE, "FL")(world)
    answer = check(world.client, world.headers, at=(NOW + timedelta(hours=9, minutes=30)).isoformat(), state="fl")
    assert verdicts(answer)["FL.calling_hours"] == "block"
    assert verdicts(answer)["US.calling_hours"] == "pass"


def test_a_database_failure_blocks_and_is_still_recorded(world: World) -> None:
    world.grant()
    world.copy()
    with world.container.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE consent_events RENAME TO consent_events_gone")
    try:
        answer = check(world.client, world.headers)
    finally:
        with world.container.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE consent_events_gone RENAME TO consent_events")
    assert answer["allowed"] is False
    assert blocking(answer) == {"gate.error"}
    with tenant_session(world.container.sessions, world.org.id) as session:
        recorded = session.scalar(sa.select(sa.func.count()).select_from(GateDecision))
    assert recorded == 1


def test_bad_bodies_are_refused_with_field_paths(world: World) -> None:
    response = world.client.post(
        "/api/v1/compliance/check", headers=world.headers, json={"phone": NY_PHONE, "channel": "fax", "purpose": "x"}
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"body.channel", "body.purpose"} <= fields

