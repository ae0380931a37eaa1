"""POST /twilio/sms: every keyword path (opt-out words and free text, re-subscribe, help, anything else)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from compliance.internal_dnc import internal_statuses, record_do_not_call
from compliance.models import ConsentRecord
from seiketsu.container import Container
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import system_session, tenant_session
from telephony.sms_models import SmsKind, SmsMessage, SmsStatus
from tests.factories import OrgFixture, login
from tests.telephony.conftest import twilio_post
from tests.telephony.outbound_support import (
    ACCOUNT,
    INBOUND_NUMBER,
    FakeClock,
    FakeTwilio,
    add_leads,
    outbound_org,
    run_jobs,
    use_clock,
)
from tests.webhooks.support import lead_created_endpoint, lead_created_events

LEAD = "+12125550142"
SIDS = (f"SM{n:032x}" for n in itertools.count(1))


@pytest.fixture
def clock(client: TestClient, container: Container) -> FakeClock:
    clock = FakeClock()
    use_clock(container, clock)
    return clock


@pytest.fixture
def twilio(clock: FakeClock) -> Iterator[FakeTwilio]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


@pytest.fixture
def org(container: Container) -> OrgFixture:
    org = outbound_org(container, settings={"smsHelpText": "Lone Star Realty: call 212-555-0100 for help."})
    add_leads(container, org, [LEAD])
    return org


def text(client: TestClient, body: str, *, sender: str = LEAD, sid: str | None = None) -> Any:
    params = {
        "MessageSid": sid or next(SIDS),
        "AccountSid": ACCOUNT,
        "From": sender,
        "To": INBOUND_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    response = twilio_post(client, "/twilio/sms", params)
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.text)
    assert root.tag == "Response" and list(root) == [], "the webhook always answers with empty TwiML"
    return response


def listed(container: Container, org: OrgFixture, phone: str = LEAD) -> bool:
    with tenant_session(container.sessions, org.id) as session:
        status = internal_statuses(session, [phone]).get(phone)
    return status is not None and status.listed


def sms_revocations(container: Container) -> list[ConsentRecord]:
    with system_session(container.sessions) as session:
        query = sa.select(ConsentRecord).where(col(ConsentRecord.action) == "revoke")
        return list(session.scalars(query))


def outbound(container: Container) -> list[SmsMessage]:
    with system_session(container.sessions) as session:
        query = sa.select(SmsMessage).where(col(SmsMessage.direction) == "outbound")
        return list(session.scalars(query.order_by(col(SmsMessage.created_at))))


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
)
def test_a_single_opt_out_keyword_lists_the_number_and_twilio_confirms_it(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio, body: str
) -> None:
    text(client, body)
    run_jobs(container)
    assert listed(container, org)
    [revocation] = sms_revocations(container)
    assert revocation.method == "sms_keyword" and revocation.channels == ["sms"]
    assert outbound(container) == [] and twilio.messages == [], "Twilio's keyword handling already confirmed it"


@pytest.mark.parametrize("body", ["Stop please", "please stop texting me", "opt out", "Who is this? STOP"])
def test_other_opt_outs_get_one_confirmation_through_the_gate(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio, body: str
) -> None:
    text(client, body)
    run_jobs(container)
    assert listed(container, org) and len(sms_revocations(container)) == 1
    [sent] = twilio.messages
    assert sent["To"] == [LEAD] and sent["From"] == [INBOUND_NUMBER]
    assert "unsubscribed" in sent["Body"][0] and "Lone Star Realty" in sent["Body"][0]
    [confirmation] = outbound(container)
    assert confirmation.kind is SmsKind.OPT_OUT_CONFIRMATION and confirmation.status is SmsStatus.QUEUED
    assert confirmation.opt_out_confirmation and confirmation.gate_decision_id
    text(client, "I said stop texting me")
    run_jobs(container)
    assert len(twilio.messages) == 1, "at most one confirmation"


def test_a_confirmation_too_late_is_not_sent(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio, clock: FakeClock
) -> None:
    text(client, "please stop texting me")
    clock.advance(6 * 60)
    run_jobs(container)
    assert twilio.messages == []
    [confirmation] = outbound(container)
    assert confirmation.status is SmsStatus.CANCELED


@pytest.mark.parametrize("body", ["START", "UNSTOP", "YES", "yes please"])
def test_start_unstop_and_yes_resubscribe(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio, clock: FakeClock, body: str
) -> None:
    text(client, "STOP")
    assert listed(container, org)
    clock.advance(60)
    text(client, body)
    run_jobs(container)
    assert not listed(container, org), "a text opt-out is withdrawn by a text opt-in"
    with system_session(container.sessions) as session:
        grants = list(session.scalars(sa.select(ConsentRecord).where(col(ConsentRecord.method) == "sms")))
    assert [grant.channels for grant in grants] == [["sms"]]
    assert twilio.messages == []


def test_an_opt_in_by_text_does_not_undo_an_opt_out_made_on_a_call(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio, clock: FakeClock
) -> None:
    with tenant_session(container.sessions, org.id) as session:
        record_do_not_call(session, phone=LEAD, source="call", requested_at=clock.now())
        session.commit()
    clock.advance(60)
    text(client, "START")
    assert listed(container, org)


def test_help_answers_with_the_organizations_help_text(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio
) -> None:
    text(client, "HELP")
    text(client, "info")
    run_jobs(container)
    assert [m["Body"] for m in twilio.messages] == [["Lone Star Realty: call 212-555-0100 for help."]] * 2
    assert [m.kind for m in outbound(container)] == [SmsKind.HELP, SmsKind.HELP]
    assert not listed(container, org)


def test_anything_else_is_kept_on_the_leads_conversation_and_published(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio
) -> None:
    container.jobs.registry.register("test.sms_received", lambda context: None)
    container.events.subscribe("sms.received", "test.sms_received")
    text(client, "Can we move the showing to 5pm?", sid="SM" + "a" * 32)
    text(client, "Can we move the showing to 5pm?", sid="SM" + "a" * 32)  # Twilio retried the webhook
    text(client, "Is the condo still available?", sender="+12125550177")
    with system_session(container.sessions) as session:
        jobs = list(session.scalars(sa.select(Job).where(col(Job.name) == "test.sms_received")))
        stranger = session.scalars(sa.select(Lead).where(col(Lead.phone) == "+12125550177")).one()
        lead_id = session.scalars(sa.select(col(Lead.id)).where(col(Lead.phone) == LEAD)).one()
    assert len(jobs) == 2 and stranger.source == "inbound_sms"
    payload = jobs[0].payload if jobs[0].payload["fromNumber"] == LEAD else jobs[1].payload
    assert payload["body"] == "Can we move the showing to 5pm?" and payload["leadId"] == str(lead_id)
    messages = client.get(f"/api/v1/leads/{lead_id}/messages", headers=login(client, org)).json()["items"]
    assert [(m["direction"], m["kind"], m["intent"], m["status"]) for m in messages] == [
        ("inbound", "inbound", "other", "received")
    ]
    run_jobs(container)
    assert twilio.messages == [] and not listed(container, org)


def test_a_text_from_a_new_number_delivers_lead_created(
    client: TestClient, container: Container, org: OrgFixture
) -> None:
    with lead_created_endpoint(client, login(client, org)) as (fake, secret):
        text(client, "Is the condo on Elm Street still available?", sender="+12125550178")
        text(client, "STOP", sender="+12125550179")  # an opt-out from a stranger creates no lead
        run_jobs(container)
    with system_session(container.sessions) as session:
        stranger = session.scalars(sa.select(Lead).where(col(Lead.phone) == "+12125550178")).one()
    [event] = lead_created_events(fake, secret)
    assert event["leadId"] == str(stranger.id) and event["phone"] == "+12125550178"
    assert event["source"] == "inbound_sms"


def test_after_stop_the_lead_can_be_neither_called_nor_texted(
    client: TestClient, container: Container, org: OrgFixture, twilio: FakeTwilio
) -> None:
    text(client, "STOP")
    with system_session(container.sessions) as session:
        lead_id = session.scalars(sa.select(col(Lead.id)).where(col(Lead.phone) == LEAD)).one()
    response = client.post("/api/v1/voice/sessions", headers=login(client, org), json={"leadId": str(lead_id)})
    assert response.status_code == 422 and "federal.internal_dnc" in response.json()["detail"]
    text(client, "HELP")
    run_jobs(container)
    [help_reply] = outbound(container)
    assert help_reply.status is SmsStatus.BLOCKED and twilio.messages == []


def test_unsigned_texts_are_refused(client: TestClient, container: Container, org: OrgFixture) -> None:
    params = {"MessageSid": "SM1", "From": LEAD, "To": INBOUND_NUMBER, "Body": "STOP"}
    assert client.post("/twilio/sms", data=params).status_code == 403
    assert client.post("/twilio/sms/status", data={"MessageSid": "SM1", "MessageStatus": "sent"}).status_code == 403
    assert not listed(container, org)
