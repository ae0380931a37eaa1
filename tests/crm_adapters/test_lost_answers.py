"""A CRM that wrote a record but whose answer was lost (a timeout, a 500 after the write, a dropped connection):
the delivery job's retry finds the record at the vendor instead of creating it again, for every vendor and every
kind of write. Each vendor is a stateful double in its documented shapes; the answer is lost in the transport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from crm_adapters.fake_followupboss import FakeFollowUpBoss
from crm_adapters.fake_server import FakeHubSpot
from crm_adapters.models import DeliveryStatus
from crm_adapters.wiring import register
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.leads.models import Appointment
from seiketsu.tenancy.scoping import tenant_session
from tests.factories import make_org

from .delivery_support import (
    FAKE_BASE,
    IDEMPOTENT_FIELDS,
    UNIQUE_PROPERTIES,
    completed_event,
    deliveries,
    make_integration,
    make_leads,
    publish,
    run_jobs,
    use_http,
)
from .vendor_doubles import FakePipedrive, FakeSalesforce, FakeZoho, LosingAnswers

KINDS = ("contact", "call", "task", "appointment")
"""The writes of a qualified call with a booked appointment, in the order a delivery makes them."""


@dataclass(frozen=True)
class Vendor:
    build: Callable[[], Any]
    credentials: Callable[[Any], dict[str, str]]
    settings: dict[str, str]
    is_write: Callable[[httpx.Request], bool]
    counts: Callable[[Any], dict[str, int]]
    """Records at the vendor, per kind of write."""
    double: str
    """Where the server configuration (``CRM_BASE_URLS``) sends the vendor's requests: the fake."""
    field_mapping: dict[str, str] | None = None


def _writes(request: httpx.Request) -> bool:
    return request.method in ("POST", "PATCH")


def _salesforce_counts(fake: FakeSalesforce) -> dict[str, int]:
    tasks = list(fake.records.get("Task", {}).values())
    calls = sum(1 for task in tasks if task.get("TaskSubtype") == "Call")
    return {
        "contact": fake.count("Lead"),
        "call": calls,
        "task": len(tasks) - calls,
        "appointment": fake.count("Event"),
    }


VENDORS = {
    "hubspot": Vendor(
        build=lambda: FakeHubSpot(unique_properties=UNIQUE_PROPERTIES),
        credentials=lambda fake: {"access_token": fake.access_token},
        settings={},
        double=FAKE_BASE,
        is_write=lambda request: request.url.path.endswith("/batch/upsert"),
        counts=lambda fake: {
            kind: len(fake.objects[t])
            for kind, t in zip(KINDS, ("contacts", "calls", "tasks", "meetings"), strict=True)
        },
        field_mapping=IDEMPOTENT_FIELDS,
    ),
    "salesforce": Vendor(
        build=lambda: FakeSalesforce(base_url="https://acme.my.salesforce.com"),
        credentials=lambda fake: {"access_token": fake.access_token, "instance_url": fake.base_url},
        settings={},
        double="http://acme.my.salesforce.test",
        is_write=_writes,
        counts=_salesforce_counts,
    ),
    "zoho": Vendor(
        build=FakeZoho,
        credentials=lambda fake: {"access_token": fake.access_token},
        settings={},
        double="http://www.zohoapis.test",
        is_write=_writes,
        counts=lambda fake: {
            kind: fake.count(m) for kind, m in zip(KINDS, ("Leads", "Calls", "Tasks", "Events"), strict=True)
        },
    ),
    "pipedrive": Vendor(
        build=FakePipedrive,
        credentials=lambda fake: {"api_token": fake.api_token},
        settings={"company_domain": "acme"},
        double="http://acme.pipedrive.test",
        is_write=_writes,
        counts=lambda fake: {
            "contact": fake.count("persons"),
            "call": fake.count("callLogs"),
            "task": sum(1 for a in fake.records.get("activities", {}).values() if a["type"] == "call"),
            "appointment": sum(1 for a in fake.records.get("activities", {}).values() if a["type"] == "meeting"),
        },
    ),
    "followupboss": Vendor(
        build=FakeFollowUpBoss,
        credentials=lambda fake: fake.credentials,
        settings={},
        double="http://api.followupboss.test",
        is_write=_writes,
        counts=lambda fake: {
            kind: len(fake.records[c])
            for kind, c in zip(KINDS, ("people", "calls", "tasks", "appointments"), strict=True)
        },
    ),
}


def _deliver_one_call(container: Container, vendor: Vendor, transport: LosingAnswers, fake: Any) -> DeliveryStatus:
    register(container)
    crm_type = next(name for name, v in VENDORS.items() if v is vendor)
    use_http(container, lambda: httpx.AsyncClient(transport=transport), base_url=vendor.double, vendor=crm_type)
    org = make_org(container, "acme")
    make_integration(
        container,
        org,
        crm_type=crm_type,
        credentials=vendor.credentials(fake),
        settings=vendor.settings,
        field_mapping=vendor.field_mapping,
    )
    [lead] = make_leads(container, org, 1)
    with tenant_session(container.sessions, org.id) as session:
        appointment = Appointment(lead_id=lead.id, starts_at=utcnow() + timedelta(days=2), timezone="UTC")
        session.add(appointment)
        session.commit()
        appointment_id = str(appointment.id)
    publish(container, org, [completed_event(lead, outcome="qualified", appointment_id=appointment_id)])
    run_jobs(container)
    [delivery] = deliveries(container, org)
    assert delivery.attempts == 2  # the lost answer failed the first run; the second finished the delivery
    return delivery.status


HOW = ("timeout", "500", "reset")
CASES = [
    (vendor, kind, HOW[(v + k) % len(HOW)]) for v, vendor in enumerate(VENDORS) for k, kind in enumerate(KINDS)
]
"""Every vendor and kind of write; the ways of losing the answer rotate, so each vendor meets all three."""


@pytest.mark.parametrize(("vendor_name", "kind", "how"), CASES)
def test_a_write_whose_answer_was_lost_is_found_again_not_repeated(container, vendor_name, kind, how):
    vendor = VENDORS[vendor_name]
    fake = vendor.build()
    transport = LosingAnswers(fake.app, is_write=vendor.is_write, lose=KINDS.index(kind) + 1, how=how)
    status = _deliver_one_call(container, vendor, transport, fake)
    assert len(transport.lost) == 1
    assert status is DeliveryStatus.SUCCEEDED
    assert vendor.counts(fake) == dict.fromkeys(KINDS, 1)
