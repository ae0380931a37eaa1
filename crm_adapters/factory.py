"""Builds the adapter of an integration from its CRM type and stored configuration."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

import httpx

from crm_adapters.config import AdapterConfig
from crm_adapters.errors import CRMConfigError
from crm_adapters.followupboss import build_followupboss
from crm_adapters.hubspot import build_hubspot
from crm_adapters.interfaces import CRMAdapter
from crm_adapters.oauth import CredentialsCallback
from crm_adapters.pipedrive import build_pipedrive
from crm_adapters.salesforce import build_salesforce
from crm_adapters.zoho import build_zoho

_VENDORS: Mapping[str, tuple[Callable[[AdapterConfig], CRMAdapter], tuple[str, ...]]] = MappingProxyType(
    {
        "hubspot": (build_hubspot, ("base_url",)),
        "salesforce": (build_salesforce, ("instance_url", "login_url")),
        "zoho": (build_zoho, ("data_centre", "api_domain", "accounts_url")),
        "pipedrive": (build_pipedrive, ("company_domain", "base_url")),
        "followupboss": (build_followupboss, ("base_url",)),
    }
)
"""CRM type -> (builder, the settings that choose where requests, and so the credentials, go)."""

CRM_TYPES = tuple(_VENDORS)
"""The values ``crm_type`` accepts."""


def destination_settings(crm_type: str) -> tuple[str, ...]:
    """The settings of ``crm_type`` that choose the hosts its credentials are sent to."""
    return _VENDORS[crm_type][1] if crm_type in _VENDORS else ()


def build_adapter(
    crm_type: str,
    *,
    credentials: Mapping[str, str],
    http: httpx.AsyncClient,
    settings: Mapping[str, str] | None = None,
    base_url: str | None = None,
    field_mapping: Mapping[str, str | None] | None = None,
    outcome_mapping: Mapping[str, str | None] | None = None,
    on_credentials_refreshed: CredentialsCallback | None = None,
    clock: Callable[[], float] = time.time,
) -> CRMAdapter:
    """The adapter for one integration.

    ``credentials`` are decrypted by the caller; ``settings`` are the vendor's options (see each adapter's
    settings class; the URLs among them must be on the vendor's documented hosts); ``base_url``, from server
    configuration only, points every request at another host (a local double); ``field_mapping`` and
    ``outcome_mapping`` override the vendor's defaults, ``None`` unmapping an entry. After an OAuth refresh,
    ``on_credentials_refreshed`` receives the complete new credentials to store. ``http`` is shared and owned by
    the caller, who sets its timeouts.

    Raises :class:`CRMConfigError` for an unknown CRM type, setting, field, missing credential or a URL off the
    vendor's hosts.
    """
    if crm_type not in _VENDORS:
        raise CRMConfigError(f"unknown CRM type; known: {', '.join(CRM_TYPES)}", vendor=crm_type)
    builder, _ = _VENDORS[crm_type]
    config = AdapterConfig(
        credentials=credentials,
        http=http,
        settings=dict(settings or {}),
        base_url=base_url,
        field_mapping=field_mapping,
        outcome_mapping=outcome_mapping,
        on_credentials_refreshed=on_credentials_refreshed,
        clock=clock,
    )
    return builder(config)
