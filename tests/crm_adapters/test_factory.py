"""build_adapter: one entry point, configuration errors at build time, base URL overrides."""

import pytest

from crm_adapters.errors import CRMConfigError
from crm_adapters.factory import CRM_TYPES, build_adapter
from crm_adapters.followupboss import FollowUpBossCRM
from crm_adapters.hubspot import HubSpotCRM
from crm_adapters.pipedrive import PipedriveCRM
from crm_adapters.salesforce import SalesforceCRM
from crm_adapters.zoho import ZohoCRM

VALID = {
    "hubspot": ({"access_token": "t"}, {}),
    "salesforce": ({"access_token": "t", "instance_url": "https://x.my.salesforce.com"}, {}),
    "zoho": ({"access_token": "t"}, {}),
    "pipedrive": ({"api_token": "t"}, {"company_domain": "acme"}),
    "followupboss": ({"api_key": "k", "system_key": "s"}, {}),
}
CLASSES = {
    "hubspot": HubSpotCRM,
    "salesforce": SalesforceCRM,
    "zoho": ZohoCRM,
    "pipedrive": PipedriveCRM,
    "followupboss": FollowUpBossCRM,
}


@pytest.mark.parametrize("crm_type", CRM_TYPES)
def test_each_crm_type_builds_its_adapter(http, crm_type):
    credentials, settings = VALID[crm_type]
    adapter = build_adapter(crm_type, credentials=credentials, settings=settings, http=http)
    assert isinstance(adapter, CLASSES[crm_type])
    assert adapter.crm_type == crm_type


@pytest.mark.parametrize("crm_type", CRM_TYPES)
def test_missing_credentials_are_named_without_values(http, crm_type):
    _, settings = VALID[crm_type]
    with pytest.raises(CRMConfigError, match="missing credentials") as caught:
        build_adapter(crm_type, credentials={"unrelated": "secret-value"}, settings=settings, http=http)
    assert "secret-value" not in str(caught.value)


def test_unknown_crm_type(http):
    with pytest.raises(CRMConfigError, match="unknown CRM type"):
        build_adapter("dynamics", credentials={}, http=http)


def test_unknown_setting(http):
    with pytest.raises(CRMConfigError, match="unknown settings colour"):
        build_adapter("hubspot", credentials={"access_token": "t"}, settings={"colour": "red"}, http=http)


def test_unknown_field_mapping(http):
    with pytest.raises(CRMConfigError, match="cannot map fields shoe_size"):
        build_adapter("hubspot", credentials={"access_token": "t"}, field_mapping={"shoe_size": "x"}, http=http)


@pytest.mark.parametrize(
    ("crm_type", "path"),
    [
        ("hubspot", "/crm/objects/2026-03/contacts"),
        ("salesforce", "/services/data/v66.0/sobjects/Lead/describe"),
        ("zoho", "/crm/v8/Leads"),
        ("pipedrive", "/api/v1/users/me"),
        ("followupboss", "/v1/identity"),
    ],
)
async def test_base_url_points_every_adapter_at_a_local_double(http, router, crm_type, path):
    route = router.get(f"http://127.0.0.1:9999{path}").respond(
        200, json={"fields": [{"name": "Seiketsu_Lead_Id__c", "externalId": True}]}
    )
    credentials, settings = VALID[crm_type]
    adapter = build_adapter(
        crm_type, credentials=credentials, settings=settings, base_url="http://127.0.0.1:9999", http=http
    )
    await adapter.test_connection()
    assert route.call_count == 1
