"""A CRM's requests go to its vendor's documented hosts only, through the address guard webhooks use; a local
double is server configuration (``CRM_BASE_URLS``), never an integration's setting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_adapters.errors import CRMConfigError
from crm_adapters.factory import build_adapter
from crm_adapters.fake_server import FakeHubSpot
from crm_adapters.local_server import serve_locally
from crm_adapters.runtime import http_client_factory
from crm_adapters.wiring import register
from seiketsu.container import Container, build_container
from seiketsu.settings import ConfigError, Settings, load_settings
from tests.addresses import EMBEDDED_INTERNAL, INTERNAL_IPV4, PUBLIC_ADDRESS, FakeResolver, RecordingNetwork
from tests.conftest import REDIS_URL, make_settings
from tests.factories import login, make_org

from .delivery_support import (
    UNIQUE_PROPERTIES,
    completed_event,
    configure_hubspot,
    deliveries,
    make_leads,
    publish,
    run_jobs,
)

SF = {"access_token": "t", "instance_url": "https://acme.my.salesforce.com"}
ATTACKER = "https://attacker.example"

REFUSED = [
    ("hubspot", {"access_token": "t"}, {"base_url": ATTACKER}, "settings.base_url"),
    ("hubspot", {"access_token": "t"}, {"base_url": "http://api.hubapi.com"}, "settings.base_url"),
    ("hubspot", {"access_token": "t"}, {"base_url": "https://api.hubapi.com.attacker.example"}, "settings.base_url"),
    ("hubspot", {"access_token": "t"}, {"base_url": "https://api.hubapi.com@attacker.example"}, "settings.base_url"),
    ("hubspot", {"access_token": "t"}, {"base_url": "https://attacker.example#api.hubapi.com"}, "settings.base_url"),
    ("hubspot", {"access_token": "t"}, {"base_url": "https://api.hubapi.com:8443"}, "settings.base_url"),
    ("hubspot", {"access_token": "t"}, {"base_url": "https://127.0.0.1"}, "settings.base_url"),
    ("followupboss", {"api_key": "k", "system_key": "s"}, {"base_url": ATTACKER}, "settings.base_url"),
    ("pipedrive", {"api_token": "t"}, {"company_domain": "attacker.example#"}, "settings.company_domain"),
    ("pipedrive", {"api_token": "t"}, {"company_domain": "attacker.example/"}, "settings.company_domain"),
    ("pipedrive", {"api_token": "t"}, {"company_domain": "acme.pipedrive.com"}, "settings.company_domain"),
    ("pipedrive", {"api_token": "t"}, {"base_url": "https://acme.pipedrive.com.attacker.example"}, "settings.base_url"),
    ("pipedrive", {"api_token": "t"}, {"base_url": "https://a.b.pipedrive.com"}, "settings.base_url"),
    ("pipedrive", {"api_token": "t"}, {"base_url": "https://attacker.example/.pipedrive.com"}, "settings.base_url"),
    ("salesforce", SF, {"instance_url": ATTACKER}, "settings.instance_url"),
    ("salesforce", SF, {"instance_url": "https://my.salesforce.com.attacker.example"}, "settings.instance_url"),
    ("salesforce", SF, {"login_url": ATTACKER}, "settings.login_url"),
    ("salesforce", {**SF, "instance_url": ATTACKER}, {}, "credentials.instance_url"),
    ("salesforce", {**SF, "instance_url": "http://acme.my.salesforce.com"}, {}, "credentials.instance_url"),
    ("zoho", {"access_token": "t"}, {"api_domain": ATTACKER}, "settings.api_domain"),
    ("zoho", {"access_token": "t"}, {"accounts_url": ATTACKER}, "settings.accounts_url"),
    ("zoho", {"access_token": "t", "api_domain": ATTACKER}, {}, "credentials.api_domain"),
    ("zoho", {"access_token": "t", "accounts_server": ATTACKER}, {}, "credentials.accounts_server"),
]  # fmt: skip


@pytest.mark.parametrize("server_override", [None, "http://127.0.0.1:9101"])
@pytest.mark.parametrize(("crm_type", "credentials", "settings", "field"), REFUSED)
def test_a_url_off_the_vendors_documented_hosts_is_refused_naming_it(
    http, crm_type, credentials, settings, field, server_override
):
    with pytest.raises(CRMConfigError) as caught:  # also where the server points the vendor at a double
        build_adapter(crm_type, credentials=credentials, settings=settings, http=http, base_url=server_override)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("crm_type", "credentials", "settings", "host"),
    [
        ("hubspot", {"access_token": "t"}, {"base_url": "https://api.hubapi.com/"}, "api.hubapi.com"),
        ("followupboss", {"api_key": "k", "system_key": "s"}, {}, "api.followupboss.com"),
        ("pipedrive", {"api_token": "t"}, {"base_url": "https://acme-homes.pipedrive.com"}, "acme-homes.pipedrive.com"),
        ("salesforce", {**SF, "instance_url": "https://acme--uat.sandbox.my.salesforce.com"},
         {"login_url": "https://test.salesforce.com"}, "acme--uat.sandbox.my.salesforce.com"),
        ("zoho", {"access_token": "t", "api_domain": "https://www.zohoapis.com.au"}, {"data_centre": "AU"},
         "www.zohoapis.com.au"),
    ],
)  # fmt: skip
async def test_the_documented_hosts_are_used(crm_type, credentials, settings, host):
    network = RecordingNetwork(answer={"fields": [{"name": "Seiketsu_Lead_Id__c", "externalId": True}]})
    http = http_client_factory(resolver=FakeResolver(), transport_factory=lambda: network)()
    async with http:
        adapter = build_adapter(crm_type, credentials=credentials, settings=settings, http=http)
        await adapter.test_connection()
    [request] = network.sent
    assert request.headers["host"] == host and request.url.host == PUBLIC_ADDRESS


@pytest.mark.parametrize("address", [*INTERNAL_IPV4, *EMBEDDED_INTERNAL])
async def test_crm_sends_to_a_host_resolving_inside_our_network_are_refused(address):
    network = RecordingNetwork()
    resolver = FakeResolver({"api.hubapi.com": [address]})
    async with http_client_factory(resolver=resolver, transport_factory=lambda: network)() as http:
        adapter = build_adapter("hubspot", credentials={"access_token": "secret-token"}, http=http)
        with pytest.raises(CRMConfigError, match="private, loopback, link-local or reserved"):
            await adapter.test_connection()
    assert resolver.asked == ["api.hubapi.com"] and network.sent == []


@pytest.fixture
def double() -> Iterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot(unique_properties=UNIQUE_PROPERTIES)
    with serve_locally(fake.app) as url:
        yield fake, url


@pytest.fixture
def settings(pg_url: str, redis_client: object, double: tuple[FakeHubSpot, str], tmp_path) -> Settings:
    """The test settings, with HubSpot pointed at a local double the way an operator does it: the environment."""
    _, url = double
    env = load_settings({"CRM_BASE_URLS": f"hubspot={url}", "ALLOW_PRIVATE_CRM_TARGETS": "true"}, workdir=tmp_path)
    return make_settings(
        database_url=pg_url,
        redis_url=REDIS_URL,
        embedded_jobs=False,
        crm_base_urls=env.crm_base_urls,
        allow_private_crm_targets=env.allow_private_crm_targets,
    )


def test_a_vendor_double_configured_by_the_environment_gets_the_requests(client, container: Container, double):
    fake, _ = double
    org = make_org(container, "acme")
    headers = login(client, org)
    integration_id = configure_hubspot(client, headers, fake)  # no URL in the integration
    assert client.post(f"/api/v1/integrations/{integration_id}/test", headers=headers).json()["ok"] is True
    [lead] = make_leads(container, org, 1)
    publish(container, org, [completed_event(lead)])
    run_jobs(container)
    assert [delivery.status for delivery in deliveries(container, org)] == ["succeeded"]
    assert [o.object_type for o in fake.created][:2] == ["contacts", "calls"]


async def test_without_the_development_switch_a_local_double_is_refused(double):
    fake, url = double
    network = RecordingNetwork()
    async with http_client_factory(transport_factory=lambda: network)() as http:
        adapter = build_adapter("hubspot", credentials={"access_token": fake.access_token}, http=http, base_url=url)
        with pytest.raises(CRMConfigError, match="must use https"):
            await adapter.test_connection()
    assert network.sent == []


def test_an_unknown_crm_type_in_crm_base_urls_stops_start_up():
    container = build_container(make_settings(crm_base_urls={"dynamics": "http://127.0.0.1:1"}))
    try:
        with pytest.raises(ConfigError, match="CRM_BASE_URLS"):
            register(container)
    finally:
        container.close()
