"""A user of organization A gets 404 on every organization-B resource, on every route of the API."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from compliance.models import ConsentRecord, DoNotCallRequest, RegistryImport
from crm_adapters.models import Delivery, DeliveryStatus, Integration
from seiketsu.auth.rbac import permissions_for
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.tenancy.models import PhoneNumber, Role, User
from seiketsu.tenancy.scoping import tenant_session
from telephony.campaigns.models import Campaign
from telephony.models import Call, CallDirection
from tests.factories import OrgFixture, login, make_api_key, make_org
from tests.seiketsu.routes import api_routes, fill, is_authenticated, path_params, required_permissions
from webhooks.models import DeliveryStatus as WebhookDeliveryStatus
from webhooks.models import Provider, WebhookDelivery, WebhookEndpoint, WebhookSource

PUBLIC = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")}


def _org_b_resources(container: Container, org: OrgFixture) -> dict[str, str]:
    """One resource of each kind in organization B, by the path parameter that names it."""
    make_api_key(container, org)
    with tenant_session(container.sessions, org.id) as session:
        lead = Lead(phone="+15125550199", first_name="Secret")
        job = Job(name="test.noop", run_at=utcnow() + timedelta(days=1))
        session.add_all([lead, job])
        session.flush()
        call = Call(direction=CallDirection.INBOUND, from_number=lead.phone, to_number="+15125550111", lead_id=lead.id)
        session.add(call)
        integration = Integration(crm_type="hubspot", name="Secret CRM", credentials="sealed", credential_keys=["x"])
        session.add(integration)
        session.flush()
        delivery = Delivery(integration_id=integration.id, call_id=str(call.id), status=DeliveryStatus.DEAD)
        session.add(delivery)
        registry_import = RegistryImport(
            list_name="national", kind="full", as_of=utcnow().date(), file_name="Secret.txt", requested_by="user:b"
        )
        consent = ConsentRecord(
            phone=lead.phone, action="grant", kind="prior_express", channels=["sms"], purposes=["marketing"],
            method="web_form", occurred_at=utcnow(), recorded_by="user:b",
        )  # fmt: skip
        dnc = DoNotCallRequest(phone="+15125550198", requested_at=utcnow(), source="api", recorded_by="user:b")
        session.add_all([registry_import, consent, dnc])
        campaign = Campaign(
            name="Secret campaign", purpose="marketing", source="filter", calls_per_minute=10,
            max_concurrent_calls=1, max_attempts=1, retry_delay_seconds=60,
        )  # fmt: skip
        session.add(campaign)
        endpoint = WebhookEndpoint(url="https://secret.example/hook", events=["call.completed"], secrets="sealed")
        source = WebhookSource(provider=Provider.GENERIC, name="Secret form", secret="sealed")
        session.add_all([endpoint, source])
        session.flush()
        webhook_delivery = WebhookDelivery(
            endpoint_id=endpoint.id, event_type="call.completed", message_id="msg_secret",
            status=WebhookDeliveryStatus.FAILED,
        )  # fmt: skip
        session.add(webhook_delivery)
        session.commit()
        from seiketsu.auth.models import ApiKey

        return {
            "organization_id": str(org.id),
            "user_id": str(session.query(User).one().id),
            "lead_id": str(lead.id),
            "api_key_id": str(session.query(ApiKey).one().id),
            "phone_number_id": str(session.query(PhoneNumber).one().id),
            "job_id": str(job.id),
            "call_id": str(call.id),
            "integration_id": str(integration.id),
            "delivery_id": str(delivery.id),
            "import_id": str(registry_import.id),
            "consent_id": str(consent.id),
            "dnc_request_id": str(dnc.id),
            "campaign_id": str(campaign.id),
            "endpoint_id": str(endpoint.id),
            "webhook_delivery_id": str(webhook_delivery.id),
            "source_id": str(source.id),
        }


def test_every_route_hides_other_organizations(client: TestClient, container: Container) -> None:
    a = make_org(container, "alpha", numbers=("+15125550100",))
    b = make_org(container, "beta", numbers=("+15125550111",))
    b_ids = _org_b_resources(container, b)
    headers = login(client, a)
    a_permissions = permissions_for(Role.ORG_ADMIN)
    checked = 0
    for method, path, route in api_routes(client.app):  # type: ignore[arg-type]
        if (method, path) in PUBLIC:
            continue
        assert is_authenticated(route), f"{method} {path} does not authenticate its caller"
        params = path_params(path)
        missing = [p for p in params if p not in b_ids]
        assert not missing, f"add an organization-B fixture for {missing} ({method} {path})"
        if params:
            response = client.request(method, fill(path, b_ids), headers=headers, json={})
            expected = 404 if required_permissions(route) <= a_permissions else 403
            assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
            assert "Secret" not in response.text
            checked += 1
        elif method == "GET":
            response = client.get(path, headers=headers)
            assert response.status_code == 200, f"{method} {path}: {response.text}"
            leaked = [value for value in b_ids.values() if value in response.text]
            assert not leaked, f"{method} {path} shows organization B's {leaked}"
            checked += 1
    assert checked >= 15
