"""/api/v1/campaigns: creating from a filter or a CSV upload, the life cycle, progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import respx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from seiketsu.app import create_app
from seiketsu.container import Container, build_container
from seiketsu.leads.models import Lead
from seiketsu.settings import Settings
from seiketsu.tenancy.models import Role
from seiketsu.tenancy.scoping import system_session
from telephony.campaigns.models import CampaignLead
from tests.conftest import fast_passwords, truncate
from tests.factories import login, make_user
from tests.telephony.outbound_support import (
    ALL_WEEK,
    FakeClock,
    FakeTwilio,
    add_leads,
    outbound_org,
    pending_jobs,
    use_clock,
)

SETTINGS: dict[str, Any] = {"name": "Spring sellers", "callsPerMinute": 30, "maxAttempts": 2, "schedule": ALL_WEEK}


@pytest.fixture
def twilio(client: TestClient, container: Container) -> Iterator[FakeTwilio]:
    clock = FakeClock()
    use_clock(container, clock)
    with respx.mock(assert_all_called=False) as router:
        yield FakeTwilio(clock=clock).install(router)


def _upload(client: TestClient, headers: dict[str, str], csv: str, settings: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/campaigns",
        headers=headers,
        files={"file": ("leads.csv", csv.encode(), "text/csv")},
        data={"campaign": json.dumps(settings)},
    )


def _counts(container: Container) -> tuple[int, int]:
    with system_session(container.sessions) as session:
        leads = session.scalar(sa.select(sa.func.count()).select_from(Lead)) or 0
        members = session.scalar(sa.select(sa.func.count()).select_from(CampaignLead)) or 0
    return int(leads), int(members)


def test_a_csv_upload_creates_the_campaign_and_its_leads(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    add_leads(container, org, ["+12125550142"], first_name="")
    headers = login(client, org, make_user(container, org, Role.AGENT))
    csv = "phone,first name,zip\n(212) 555-0142,Dana,10001\n212-555-0143,Sam,\n"
    response = _upload(client, headers, csv, SETTINGS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft" and body["source"] == "csv" and body["progress"]["total"] == 2
    assert body["maxConcurrentCalls"] == 10 and body["callsPerMinute"] == 30 and body["retryDelayMinutes"] == 60
    assert body["schedule"] == {"timezone": "America/New_York", **ALL_WEEK}
    with system_session(container.sessions) as session:
        leads = {lead.phone: lead for lead in session.scalars(sa.select(Lead))}
        rows = {m.phone: m.row_number for m in session.scalars(sa.select(CampaignLead))}
    assert leads["+12125550142"].first_name == "Dana", "a blank field of an existing lead is filled in"
    assert leads["+12125550143"].source == "campaign_csv"
    assert rows == {"+12125550142": 2, "+12125550143": 3}
    listed = client.get(f"/api/v1/campaigns/{body['id']}/leads", headers=headers).json()["items"]
    assert [(item["phone"], item["rowNumber"], item["status"]) for item in listed] == [
        ("+12125550142", 2, "pending"),
        ("+12125550143", 3, "pending"),
    ]


def test_a_csv_with_bad_rows_is_refused_whole_naming_each_row(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container)
    headers = login(client, org)
    csv = "phone,email\n212-555-0142,\nnope,\n212 555 0142,\n212-555-0150,bad@\n"
    response = _upload(client, headers, csv, SETTINGS)
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "3 error(s) in the file; nothing was imported"
    assert [e["field"] for e in problem["errors"]] == ["file.row.3.phone", "file.row.4.phone", "file.row.5.email"]
    assert problem["errors"][1]["message"] == "row 4: duplicate of row 2 (+12125550142)"
    assert _counts(container) == (0, 0)


def test_settings_are_validated_against_the_organization(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, limit=5)
    add_leads(container, org, ["+12125550142"])
    headers = login(client, org)
    body = {**SETTINGS, "maxConcurrentCalls": 6, "fromNumber": "+12125550199", "leadFilter": {}}
    response = client.post("/api/v1/campaigns", headers=headers, json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"body.maxConcurrentCalls", "body.fromNumber"}
    missing = client.post("/api/v1/campaigns", headers=headers, json={"name": "x"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.leadFilter"
    none = client.post("/api/v1/campaigns", headers=headers, json={**SETTINGS, "leadFilter": {"source": "nowhere"}})
    assert none.status_code == 422 and none.json()["detail"] == "body.leadFilter: no leads match"
    upload = _upload(client, headers, "phone\n2125550142\n", {"name": "x", "leadFilter": {}})
    assert upload.status_code == 422 and upload.json()["errors"][0]["field"] == "form.campaign.leadFilter"


def test_the_life_cycle_and_its_conflicts(client: TestClient, container: Container, twilio: FakeTwilio) -> None:
    org = outbound_org(container)
    add_leads(container, org, ["+12125550142", "+12125550143"])
    headers = login(client, org)
    created = client.post("/api/v1/campaigns", headers=headers, json={**SETTINGS, "leadFilter": {"source": "web_form"}})
    campaign_id = created.json()["id"]
    path = f"/api/v1/campaigns/{campaign_id}"
    assert client.post(f"{path}/pause", headers=headers).status_code == 409
    started = client.post(f"{path}/start", headers=headers)
    assert started.status_code == 200 and started.json()["status"] == "running"
    assert [job.payload["seq"] for job in pending_jobs(container, "telephony.campaign.tick")] == [1]
    assert client.post(f"{path}/start", headers=headers).status_code == 409
    assert client.post(f"{path}/pause", headers=headers).json()["status"] == "paused"
    assert client.post(f"{path}/resume", headers=headers).json()["status"] == "running"
    assert [job.payload["seq"] for job in pending_jobs(container, "telephony.campaign.tick")] == [1, 2]
    canceled = client.post(f"{path}/cancel", headers=headers).json()
    assert canceled["status"] == "canceled" and canceled["progress"]["canceled"] == 2
    assert client.post(f"{path}/resume", headers=headers).status_code == 409
    listed = client.get("/api/v1/campaigns?status=canceled", headers=headers).json()
    assert [item["id"] for item in listed["items"]] == [campaign_id]
    assert client.get("/api/v1/campaigns?status=running", headers=headers).json()["items"] == []


def test_a_campaign_cannot_start_without_an_outbound_number(
    client: TestClient, container: Container, twilio: FakeTwilio
) -> None:
    org = outbound_org(container, outbound=False)
    add_leads(container, org, ["+12125550142"])
    headers = login(client, org)
    created = client.post("/api/v1/campaigns", headers=headers, json={**SETTINGS, "leadFilter": {}}).json()
    response = client.post(f"/api/v1/campaigns/{created['id']}/start", headers=headers)
    assert response.status_code == 409 and "outbound" in response.json()["detail"]
    with system_session(container.sessions) as session:
        assert session.scalars(sa.select(col(CampaignLead.status))).all() == ["pending"]


def test_a_campaign_cannot_start_or_resume_without_a_twilio_account(settings: Settings) -> None:
    container = build_container(
        replace(settings, twilio_account_sid=None, twilio_auth_token=None), passwords=fast_passwords()
    )
    org = outbound_org(container)
    add_leads(container, org, ["+12125550142"])
    try:
        with TestClient(create_app(container.settings, container=container)) as client:
            headers = login(client, org)
            created = client.post("/api/v1/campaigns", headers=headers, json={**SETTINGS, "leadFilter": {}}).json()
            path = f"/api/v1/campaigns/{created['id']}"
            response = client.post(f"{path}/start", headers=headers)
            assert response.status_code == 503 and response.headers["retry-after"] == "30"
            assert "TWILIO_ACCOUNT_SID" in response.json()["detail"]
            assert client.get(path, headers=headers).json()["status"] == "draft"
            assert pending_jobs(container, "telephony.campaign.tick") == []
    finally:
        truncate(container)
        container.close()
