"""Zoho CRM over API v8 (Leads or Contacts, Calls, Tasks, Events), in the account's data centre.

Credentials: OAuth only. ``access_token`` (sent as ``Zoho-oauthtoken``), ``refresh_token``, ``client_id``,
``client_secret``, and optionally ``api_domain`` / ``accounts_server`` as Zoho returned them; without
those the data centre's defaults apply. Tokens last an hour: they are refreshed before ``expires_at``
and once after a 401 ``INVALID_TOKEN``.

Idempotency: leads go through ``/upsert`` with ``duplicate_check_fields`` (our lead id when ``lead_id`` is
mapped, then email, then phone). Calls have no upsert; with ``call_id`` mapped to a custom field, a call
already logged under our id is found by search and returned. Without it, and for tasks and events, the
subject carries our id's tag, and after a lost answer a search on that subject finds the record written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from crm_adapters.config import AdapterConfig, parse_settings
from crm_adapters.errors import CRMConfigError, CRMError, PermanentCRMError, parse_retry_after
from crm_adapters.field_mapping import (
    CALL_ID_FIELD,
    IDENTITY_FIELDS,
    LEAD_ID_FIELD,
    QUALIFICATION_FIELDS,
    FieldMapping,
    outcome_values,
)
from crm_adapters.hosts import HostRule
from crm_adapters.oauth import OAuthSession, can_refresh, credential_updates, request_token
from crm_adapters.rendering import call_duration_mm_ss, call_note_text, iso_utc_offset, tagged, utc_date
from crm_adapters.values import (
    Appointment,
    CallDirection,
    CallLog,
    CallOutcome,
    Contact,
    ContactMatch,
    FollowUpTask,
)
from crm_adapters.vendor_http import ErrorDetail, VendorClient, classify, json_or_none, require_id

VENDOR = "zoho"

ZOHO_API_VERSION = "v8"
CRM_PATH = f"/crm/{ZOHO_API_VERSION}"
TOKEN_PATH = "/oauth/v2/token"

DATA_CENTRES = {
    "US": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "EU": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "IN": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "AU": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "CN": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "JP": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "CA": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "SA": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
}
"""Data centre -> (accounts server, API domain)."""

ACCOUNTS_HOST = HostRule.exactly(accounts for accounts, _ in DATA_CENTRES.values())
API_HOST = HostRule.exactly(api for _, api in DATA_CENTRES.values())

MODULES = ("Leads", "Contacts")

DEFAULT_FIELDS = {
    "first_name": "First_Name",
    "last_name": "Last_Name",
    "email": "Email",
    "phone": "Phone",
    "lead_source": "Lead_Source",
}
MAPPABLE_FIELDS = IDENTITY_FIELDS | QUALIFICATION_FIELDS | {LEAD_ID_FIELD, CALL_ID_FIELD}

DEFAULT_OUTCOMES: dict[CallOutcome, str] = {}
"""``Call_Result`` is a per-org picklist; it is written only for outcomes the integration maps."""


@dataclass(frozen=True, slots=True)
class ZohoSettings:
    data_centre: str = "US"
    module: str = "Leads"
    """Where leads are written and searched: ``Leads`` or ``Contacts``."""
    api_domain: str | None = None
    """Overrides the API domain of the credentials (one of the data centres')."""
    accounts_url: str | None = None
    """Overrides the accounts server that refreshes tokens (one of the data centres')."""
    owner_id: str | None = None


def _first_error(body: Any) -> dict[str, Any]:
    """Zoho reports errors at the top level or per record in ``data[]``."""
    if not isinstance(body, dict):
        return {}
    if body.get("code"):
        return body
    records = body.get("data")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        return records[0]
    return {}


def zoho_error(response: httpx.Response, *, clock: Callable[[], float]) -> CRMError:
    error = _first_error(json_or_none(response))
    code = error.get("code")
    detail = ErrorDetail(code=str(code) if code else None, message=str(error.get("message") or ""))
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=clock())
    return classify(response, vendor=VENDOR, detail=detail, retry_after=retry_after)


def token_expired(response: httpx.Response) -> bool:
    return response.status_code == 401 and _first_error(json_or_none(response)).get("code") == "INVALID_TOKEN"


def criteria_value(value: str) -> str:
    """``value`` escaped for a search ``criteria`` expression."""
    return "".join("\\" + ch if ch in "(),\\" else ch for ch in value)


def _record_id(answer: Mapping[str, Any]) -> str:
    """The id of the single record a write answered for, or the record-level error it reported."""
    records = answer.get("data")
    record = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
    if record.get("status") == "error":
        raise PermanentCRMError(
            str(record.get("message") or "record rejected"), vendor=VENDOR, vendor_code=record.get("code")
        )
    return require_id(record.get("details"), vendor=VENDOR)


class ZohoCRM:
    """Zoho CRM adapter; see the module docstring for authentication and idempotency."""

    crm_type = VENDOR

    def __init__(
        self,
        *,
        client: VendorClient,
        fields: FieldMapping,
        outcomes: Mapping[CallOutcome, str],
        settings: ZohoSettings,
    ) -> None:
        self._client = client
        self._fields = fields
        self._outcomes = outcomes
        self._settings = settings
        self._module = settings.module

    def _link(self, contact_id: str) -> dict[str, Any]:
        if self._module == "Contacts":
            return {"Who_Id": {"id": contact_id}}
        return {"What_Id": {"id": contact_id}, "$se_module": self._module}

    def _owned(self, record: dict[str, Any]) -> dict[str, Any]:
        if self._settings.owner_id:
            record["Owner"] = {"id": self._settings.owner_id}
        return record

    async def _search(self, module: str, params: Mapping[str, str]) -> dict[str, Any] | None:
        answer = await self._client.request_json("GET", f"{CRM_PATH}/{module}/search", params=params)
        records = answer.get("data") or []  # 204 without a body means no match
        return records[0] if records and isinstance(records[0], dict) else None

    async def find_contact(self, *, phone: str | None = None, email: str | None = None) -> ContactMatch | None:
        if not phone and not email:
            raise ValueError("find_contact needs a phone or an email")
        for key, value in (("email", email), ("phone", phone)):
            if value and (record := await self._search(self._module, {key: value})):
                return self._match(record)
        return None

    async def fetch_contact(self, contact_id: str) -> ContactMatch | None:
        """The record with Zoho id ``contact_id`` in the configured module; ``None`` if there is none."""
        answer = await self._client.request_json("GET", f"{CRM_PATH}/{self._module}/{contact_id}")
        records = answer.get("data") or []  # 204 without a body: no such record
        return self._match(records[0]) if records and isinstance(records[0], dict) else None

    def _match(self, record: Mapping[str, Any]) -> ContactMatch:
        def value(ours: str) -> str | None:
            name = self._fields.crm_field(ours)
            found = record.get(name) if name else None
            return str(found) if found else None

        name = record.get("Full_Name") or " ".join(part for part in (value("first_name"), value("last_name")) if part)
        return ContactMatch(
            id=require_id(record, vendor=VENDOR), name=name or None, email=value("email"), phone=value("phone")
        )

    async def upsert_contact(self, contact: Contact, *, recheck_since: datetime | None = None) -> str:
        record: dict[str, Any] = self._fields.apply(contact.field_values())
        record.setdefault("Last_Name", contact.last_name or contact.first_name or "Unknown")
        duplicate_check = [
            name
            for ours in (LEAD_ID_FIELD, "email", "phone")
            if (name := self._fields.crm_field(ours)) and name in record
        ]
        body = {"data": [self._owned(record)], "duplicate_check_fields": duplicate_check, "trigger": ["workflow"]}
        answer = await self._client.request_json("POST", f"{CRM_PATH}/{self._module}/upsert", json=body)
        return _record_id(answer)

    async def log_call(self, call: CallLog, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        call_id_field = self._fields.crm_field(CALL_ID_FIELD)
        record: dict[str, Any] = {
            "Subject": call.title if call_id_field else tagged(call.title, call.call_id),
            "Call_Type": "Inbound" if call.direction is CallDirection.INBOUND else "Outbound",
            "Call_Start_Time": iso_utc_offset(call.started_at),
            "Call_Duration": call_duration_mm_ss(call.duration_seconds),
            "Description": call_note_text(call),
            **self._link(contact_id),
        }
        if call_result := self._outcomes.get(call.outcome):
            record["Call_Result"] = call_result
        if call_id_field:
            record[call_id_field] = call.call_id
            return await self._create("Calls", record, our_field=call_id_field)
        return await self._create("Calls", record, our_field="Subject" if recheck_since else None)

    async def create_task(self, task: FollowUpTask, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        record = {
            "Subject": tagged(task.title, task.task_id),
            "Due_Date": utc_date(task.due_at),
            "Status": "Not Started",
            "Priority": "High",
            "Description": task.notes,
            **self._link(contact_id),
        }
        return await self._create("Tasks", record, our_field="Subject" if recheck_since else None)

    async def create_appointment(
        self, appointment: Appointment, *, contact_id: str, recheck_since: datetime | None = None
    ) -> str:
        record: dict[str, Any] = {
            "Event_Title": tagged(appointment.title, appointment.appointment_id),
            "Start_DateTime": iso_utc_offset(appointment.starts_at),
            "End_DateTime": iso_utc_offset(appointment.ends_at),
            "Description": appointment.notes,
            **self._link(contact_id),
        }
        if appointment.location:
            record["Venue"] = appointment.location
        return await self._create("Events", record, our_field="Event_Title" if recheck_since else None)

    async def _create(self, module: str, record: dict[str, Any], *, our_field: str | None = None) -> str:
        """Create the record; with ``our_field`` (one holding our id or its tag), first search for its value."""
        if our_field is not None:
            criteria = f"({our_field}:equals:{criteria_value(str(record[our_field]))})"
            if written := await self._search(module, {"criteria": criteria}):
                return require_id(written, vendor=VENDOR)
        answer = await self._client.request_json("POST", f"{CRM_PATH}/{module}", json={"data": [self._owned(record)]})
        return _record_id(answer)

    async def test_connection(self) -> None:
        await self._client.request("GET", f"{CRM_PATH}/{self._module}", params={"fields": "Last_Name", "per_page": 1})


def _checked(rule: HostRule, *candidates: tuple[str, str | None]) -> str | None:
    """The origin of the first ``(field, url)`` candidate given, checked against ``rule``."""
    for field, url in candidates:
        if url:
            return rule.origin(url, vendor=VENDOR, field=field)
    return None


def build_zoho(config: AdapterConfig) -> ZohoCRM:
    """A Zoho CRM adapter from an integration's configuration."""
    settings = parse_settings(ZohoSettings, config.settings, vendor=VENDOR)
    if settings.data_centre not in DATA_CENTRES:
        raise CRMConfigError(
            f"unknown data centre {settings.data_centre!r}; known: {', '.join(DATA_CENTRES)}", vendor=VENDOR
        )
    if settings.module not in MODULES:
        raise CRMConfigError(f"module must be one of {', '.join(MODULES)}", vendor=VENDOR)
    credentials = config.credentials
    refreshable = can_refresh(credentials)
    if not refreshable and not credentials.get("access_token"):
        raise CRMConfigError(
            "missing credentials: access_token, or refresh_token with client_id and client_secret",
            vendor=VENDOR,
        )
    default_accounts, default_api = DATA_CENTRES[settings.data_centre]
    accounts = _checked(
        ACCOUNTS_HOST,
        ("settings.accounts_url", settings.accounts_url),
        ("credentials.accounts_server", credentials.get("accounts_server")),
    )
    accounts_url = config.base_url or accounts or default_accounts
    api_domain = _checked(API_HOST, ("settings.api_domain", settings.api_domain))
    _checked(API_HOST, ("credentials.api_domain", credentials.get("api_domain")))

    async def refresh(current: Mapping[str, str]) -> Mapping[str, str]:
        form = {
            "grant_type": "refresh_token",
            "client_id": current["client_id"],
            "client_secret": current["client_secret"],
            "refresh_token": current["refresh_token"],
        }
        url = accounts_url.rstrip("/") + TOKEN_PATH
        token = await request_token(config.http, vendor=VENDOR, url=url, form=form, clock=config.clock)
        return credential_updates(token, extra=("api_domain",))

    session = OAuthSession(
        vendor=VENDOR,
        credentials=credentials,
        refresher=refresh if refreshable else None,
        on_refreshed=config.on_credentials_refreshed,
        clock=config.clock,
        scheme="Zoho-oauthtoken",
    )
    client = VendorClient(
        vendor=VENDOR,
        http=config.http,
        # checked on every request: a refresh may have brought another api_domain
        base_url=lambda: (
            config.base_url
            or api_domain
            or _checked(API_HOST, ("credentials.api_domain", session.credentials.get("api_domain")))
            or default_api
        ),
        auth=session,
        error_for=lambda response: zoho_error(response, clock=config.clock),
        auth_expired=token_expired,
    )
    return ZohoCRM(
        client=client,
        fields=FieldMapping.build(
            vendor=VENDOR, defaults=DEFAULT_FIELDS, mappable=MAPPABLE_FIELDS, overrides=config.field_mapping
        ),
        outcomes=outcome_values(vendor=VENDOR, defaults=DEFAULT_OUTCOMES, overrides=config.outcome_mapping),
        settings=settings,
    )
