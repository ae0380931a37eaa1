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

_VENDORS: Mapping[str, tuple[Callable[[AdapterConfig], CRMAdapter], str]] = MappingProxyType(
    {
        "hubspot": (build_hubspot, "base_url"),
        "salesforce": (build_salesforce, "instance_url"),
        "zoho": (build_zoho, "api_domain"),
        "pipedrive": (build_pipedrive, "base_url"),
        "followupboss": (build_followupboss, "base_url"),
    }
)
"""CRM type -> (builder, the setting that points API requests at another host)."""

CRM_TYPES = tuple(_VENDORS)
"""The values ``crm_type`` accepts."""


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

    ``credentials`` are decrypted by the caller; ``settings`` are the vendor's options (see each
    adapter's settings class); ``base_url`` points every API request at another host (a sandbox or a
    local double); ``field_mapping`` and ``outcome_mapping`` override the vendor's defaults, ``None``
    unmapping an entry. After an OAuth refresh, ``on_credentials_refreshed`` receives the complete new
    credentials to store. ``http`` is shared and owned by the caller, who sets its timeouts.

    Raises :class:`CRMConfigError` for an unknown CRM type, setting, field or missing credential.
    """
    if crm_type not in _VENDORS:
        raise CRMConfigError(f"unknown CRM type; known: {', '.join(CRM_TYPES)}", vendor=crm_type)
    builder, base_url_setting = _VENDORS[crm_type]
    merged_settings = dict(settings or {})
    if base_url is not None:
        merged_settings[base_url_setting] = base_url
    config = AdapterConfig(
        credentials=credentials,
        http=http,
        settings=merged_settings,
        field_mapping=field_mapping,
        outcome_mapping=outcome_mapping,
        on_credentials_refreshed=on_credentials_refreshed,
        clock=clock,
    )
    return builder(config)
