"""HubSpot CRM over its date-versioned object API (contacts, calls, tasks, meetings).

Authentication is a private-app or service-key token (``access_token`` only), or OAuth: with
``refresh_token``, ``client_id`` and ``client_secret`` the token is refreshed through ``/oauth/v3/token``
before ``expires_at`` and once after a 401.

Idempotency: contacts are upserted by our lead id when ``lead_id`` is mapped to a unique property, else
by email; calls, tasks and meetings are upserted by our id when ``call_id``, ``task_id`` or ``appointment_id``
is mapped to a unique property of that object.
A phone-only contact without a mapped ``lead_id`` is searched for, then created; HubSpot's search lags
writes by a few seconds, so only the caller's own record of delivered ids protects that path. Upserts need no
recheck after a lost answer, so ``recheck_since`` changes nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from crm_adapters.config import AdapterConfig, parse_settings
from crm_adapters.errors import CRMConfigError, CRMError, PermanentCRMError, parse_retry_after, parse_seconds
from crm_adapters.field_mapping import (
    APPOINTMENT_ID_FIELD,
    CALL_ID_FIELD,
    IDENTITY_FIELDS,
    LEAD_ID_FIELD,
    QUALIFICATION_FIELDS,
    TASK_ID_FIELD,
    FieldMapping,
    outcome_values,
)
from crm_adapters.hosts import HostRule
from crm_adapters.oauth import OAuthSession, can_refresh, credential_updates, request_token
from crm_adapters.rendering import call_note_html, iso_utc
from crm_adapters.values import (
    Appointment,
    CallDirection,
    CallLog,
    CallOutcome,
    Contact,
    ContactMatch,
    FollowUpTask,
    TaskType,
)
from crm_adapters.vendor_http import ErrorDetail, VendorClient, classify, json_or_none, require_id

VENDOR = "hubspot"

HUBSPOT_API_VERSION = "2026-03"
"""The date-based version in every CRM object path; later versions change validation, so move deliberately."""

DEFAULT_BASE_URL = "https://api.hubapi.com"
API_HOST = HostRule.exactly([DEFAULT_BASE_URL])
TOKEN_PATH = "/oauth/v3/token"
OBJECTS_PATH = f"/crm/objects/{HUBSPOT_API_VERSION}"

CALL_TO_CONTACT = 194
TASK_TO_CONTACT = 204
MEETING_TO_CONTACT = 200

DEFAULT_FIELDS = {"first_name": "firstname", "last_name": "lastname", "email": "email", "phone": "phone"}
MAPPABLE_FIELDS = (
    IDENTITY_FIELDS | QUALIFICATION_FIELDS | {LEAD_ID_FIELD, CALL_ID_FIELD, TASK_ID_FIELD, APPOINTMENT_ID_FIELD}
)

DEFAULT_OUTCOMES = {
    CallOutcome.CONNECTED: "f240bbac-87c9-4f6e-bf70-924b57d47db7",
    CallOutcome.BUSY: "9d9162e7-6cf3-4944-bf63-4dff82258764",
    CallOutcome.VOICEMAIL: "b2cf5968-551e-4856-9783-52b3da59a7d0",
    CallOutcome.NO_ANSWER: "73a0d17f-1163-4015-bdd5-ec830791da20",
    CallOutcome.WRONG_NUMBER: "17b47fee-58de-441e-a44c-c6300d46f273",
}
"""HubSpot's default call dispositions; portals with their own outcomes override these ids."""

_CALL_STATUS = {
    CallOutcome.CONNECTED: "COMPLETED",
    CallOutcome.VOICEMAIL: "COMPLETED",
    CallOutcome.WRONG_NUMBER: "COMPLETED",
    CallOutcome.NO_ANSWER: "NO_ANSWER",
    CallOutcome.BUSY: "BUSY",
    CallOutcome.FAILED: "FAILED",
}

_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


@dataclass(frozen=True, slots=True)
class HubSpotSettings:
    base_url: str = DEFAULT_BASE_URL
    owner_id: str | None = None
    """``hubspot_owner_id`` for calls, tasks and meetings; HubSpot leaves them unassigned without it."""


def hubspot_error(response: httpx.Response, *, clock: Callable[[], float]) -> CRMError:
    """Classify a HubSpot error body; a 429 waits for ``Retry-After`` or the rate-limit window."""
    body = json_or_none(response)
    body = body if isinstance(body, dict) else {}
    code = body.get("category") or body.get("errorType")
    retry_after = None
    quota_exhausted = False
    if response.status_code == 429:
        policy = body.get("policyName")
        code = policy or code
        quota_exhausted = policy == "DAILY"
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=clock())
        if retry_after is None and not quota_exhausted:
            interval_ms = parse_seconds(response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds"))
            retry_after = interval_ms / 1000 if interval_ms is not None else None
    detail = ErrorDetail(code=str(code) if code else None, message=str(body.get("message") or ""))
    return classify(response, vendor=VENDOR, detail=detail, retry_after=retry_after, quota_exhausted=quota_exhausted)


class HubSpotCRM:
    """HubSpot adapter; see the module docstring for authentication and idempotency."""

    crm_type = VENDOR

    def __init__(
        self,
        *,
        client: VendorClient,
        fields: FieldMapping,
        outcomes: Mapping[CallOutcome, str],
        settings: HubSpotSettings,
    ) -> None:
        self._client = client
        self._fields = fields
        self._outcomes = outcomes
        self._settings = settings

    async def find_contact(self, *, phone: str | None = None, email: str | None = None) -> ContactMatch | None:
        email_property = self._fields.crm_field("email")
        phone_property = self._fields.crm_field("phone")
        groups = []
        if email and email_property:
            groups.append(_eq_filter(email_property, email))
        if phone and phone_property:
            groups.extend(_eq_filter(name, phone) for name in dict.fromkeys([phone_property, "mobilephone"]))
        if not groups:
            raise ValueError("find_contact needs a phone or an email with a mapped field")
        wanted = [
            name for ours in ("first_name", "last_name", "email", "phone") if (name := self._fields.crm_field(ours))
        ]
        body = {"filterGroups": groups, "properties": wanted, "limit": 10}
        found = await self._client.request_json("POST", f"{OBJECTS_PATH}/contacts/search", json=body)
        results = [r for r in found.get("results", []) if isinstance(r, dict)]
        if not results:
            return None
        by_email = [r for r in results if email and r.get("properties", {}).get(email_property) == email]
        return self._match((by_email or results)[0])

    async def fetch_contact(self, contact_id: str) -> ContactMatch | None:
        """The contact with HubSpot id ``contact_id`` (a webhook names only the id); ``None`` if there is none."""
        wanted = [
            name for ours in ("first_name", "last_name", "email", "phone") if (name := self._fields.crm_field(ours))
        ]
        try:
            record = await self._client.request_json(
                "GET", f"{OBJECTS_PATH}/contacts/{contact_id}", params={"properties": ",".join(wanted)}
            )
        except PermanentCRMError as exc:
            if exc.status == 404:
                return None
            raise
        return self._match(record)

    def _match(self, record: Mapping[str, Any]) -> ContactMatch:
        properties = record.get("properties") or {}

        def value(ours: str) -> str | None:
            name = self._fields.crm_field(ours)
            return properties.get(name) if name else None

        name = " ".join(part for part in (value("first_name"), value("last_name")) if part)
        return ContactMatch(
            id=require_id(record, vendor=VENDOR), name=name or None, email=value("email"), phone=value("phone")
        )

    async def upsert_contact(self, contact: Contact, *, recheck_since: datetime | None = None) -> str:
        properties = {name: str(value) for name, value in self._fields.apply(contact.field_values()).items()}
        lead_id_property = self._fields.crm_field(LEAD_ID_FIELD)
        if lead_id_property:
            return await self._upsert(
                "contacts", id_property=lead_id_property, id_value=contact.lead_id, properties=properties
            )
        email_property = self._fields.crm_field("email")
        if contact.email and email_property:
            return await self._upsert(
                "contacts", id_property=email_property, id_value=contact.email, properties=properties
            )
        if not contact.phone:
            raise CRMConfigError("a contact without a phone needs a mapped email or lead_id", vendor=VENDOR)
        existing = await self.find_contact(phone=contact.phone)
        if existing is not None:
            await self._update_contact(existing.id, properties)
            return existing.id
        return await self._create_contact(properties)

    async def _create_contact(self, properties: Mapping[str, str]) -> str:
        try:
            created = await self._client.request_json(
                "POST", f"{OBJECTS_PATH}/contacts", json={"properties": properties}
            )
        except PermanentCRMError as exc:
            conflict = _EXISTING_ID.search(exc.message) if exc.status == 409 else None
            if conflict is None:
                raise
            await self._update_contact(conflict.group(1), properties)
            return conflict.group(1)
        return require_id(created, vendor=VENDOR)

    async def _update_contact(self, contact_id: str, properties: Mapping[str, str]) -> None:
        await self._client.request("PATCH", f"{OBJECTS_PATH}/contacts/{contact_id}", json={"properties": properties})

    async def _upsert(self, object_type: str, *, id_property: str, id_value: str, properties: Mapping[str, str]) -> str:
        body = {"inputs": [{"idProperty": id_property, "id": id_value, "properties": dict(properties)}]}
        answer = await self._client.request_json("POST", f"{OBJECTS_PATH}/{object_type}/batch/upsert", json=body)
        errors = answer.get("errors") or []
        results = answer.get("results") or []
        if errors or not results:
            first = errors[0] if errors else {}
            raise PermanentCRMError(
                str(first.get("message") or "upsert returned no record"),
                vendor=VENDOR,
                status=207 if errors else 200,
                vendor_code=first.get("category"),
            )
        return require_id(results[0], vendor=VENDOR)

    async def _create_associated(
        self, object_type: str, properties: Mapping[str, str], *, contact_id: str, association_type: int
    ) -> str:
        body = {
            "properties": dict(properties),
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association_type}],
                }
            ],
        }
        created = await self._client.request_json("POST", f"{OBJECTS_PATH}/{object_type}", json=body)
        return require_id(created, vendor=VENDOR)

    def _owned(self, properties: dict[str, str]) -> dict[str, str]:
        if self._settings.owner_id:
            properties["hubspot_owner_id"] = self._settings.owner_id
        return properties

    async def log_call(self, call: CallLog, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        properties = {
            "hs_timestamp": iso_utc(call.started_at),
            "hs_call_title": call.title,
            "hs_call_body": call_note_html(call),
            "hs_call_direction": "INBOUND" if call.direction is CallDirection.INBOUND else "OUTBOUND",
            "hs_call_duration": str(call.duration_seconds * 1000),
            "hs_call_status": _CALL_STATUS[call.outcome],
            "hs_call_from_number": call.from_number,
            "hs_call_to_number": call.to_number,
        }
        if disposition := self._outcomes.get(call.outcome):
            properties["hs_call_disposition"] = disposition
        if call.recording_url:
            properties["hs_call_recording_url"] = call.recording_url
        self._owned(properties)
        return await self._write_associated(
            "calls",
            properties,
            our_id=(CALL_ID_FIELD, call.call_id),
            contact_id=contact_id,
            association_type=CALL_TO_CONTACT,
        )

    async def _write_associated(
        self,
        object_type: str,
        properties: dict[str, str],
        *,
        our_id: tuple[str, str],
        contact_id: str,
        association_type: int,
    ) -> str:
        """Upsert by our id where it is mapped to a unique property (then associate), else create associated."""
        field, value = our_id
        id_property = self._fields.crm_field(field)
        if id_property is None:
            return await self._create_associated(
                object_type, properties, contact_id=contact_id, association_type=association_type
            )
        properties[id_property] = value
        record_id = await self._upsert(object_type, id_property=id_property, id_value=value, properties=properties)
        await self._client.request(
            "PUT", f"{OBJECTS_PATH}/{object_type}/{record_id}/associations/default/contacts/{contact_id}"
        )
        return record_id

    async def create_task(self, task: FollowUpTask, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        properties = self._owned(
            {
                "hs_timestamp": iso_utc(task.due_at),
                "hs_task_subject": task.title,
                "hs_task_body": task.notes,
                "hs_task_status": "NOT_STARTED",
                "hs_task_type": "CALL" if task.task_type is TaskType.CALL else "TODO",
            }
        )
        return await self._write_associated(
            "tasks",
            properties,
            our_id=(TASK_ID_FIELD, task.task_id),
            contact_id=contact_id,
            association_type=TASK_TO_CONTACT,
        )

    async def create_appointment(
        self, appointment: Appointment, *, contact_id: str, recheck_since: datetime | None = None
    ) -> str:
        properties = self._owned(
            {
                "hs_timestamp": iso_utc(appointment.starts_at),
                "hs_meeting_title": appointment.title,
                "hs_meeting_body": appointment.notes,
                "hs_meeting_start_time": iso_utc(appointment.starts_at),
                "hs_meeting_end_time": iso_utc(appointment.ends_at),
                "hs_meeting_outcome": "SCHEDULED",
            }
        )
        if appointment.location:
            properties["hs_meeting_location"] = appointment.location
        return await self._write_associated(
            "meetings",
            properties,
            our_id=(APPOINTMENT_ID_FIELD, appointment.appointment_id),
            contact_id=contact_id,
            association_type=MEETING_TO_CONTACT,
        )

    async def test_connection(self) -> None:
        await self._client.request("GET", f"{OBJECTS_PATH}/contacts", params={"limit": 1})


def _eq_filter(property_name: str, value: str) -> dict[str, Any]:
    return {"filters": [{"propertyName": property_name, "operator": "EQ", "value": value}]}


def build_hubspot(config: AdapterConfig) -> HubSpotCRM:
    """A HubSpot adapter from an integration's configuration."""
    settings = parse_settings(HubSpotSettings, config.settings, vendor=VENDOR)
    documented = API_HOST.origin(settings.base_url, vendor=VENDOR, field="settings.base_url")
    api = config.base_url or documented
    credentials = config.credentials
    refreshable = can_refresh(credentials)
    if not refreshable and not credentials.get("access_token"):
        raise CRMConfigError(
            "missing credentials: access_token, or refresh_token with client_id and client_secret",
            vendor=VENDOR,
        )

    async def refresh(current: Mapping[str, str]) -> Mapping[str, str]:
        form = {
            "grant_type": "refresh_token",
            "client_id": current["client_id"],
            "client_secret": current["client_secret"],
            "refresh_token": current["refresh_token"],
        }
        url = api.rstrip("/") + TOKEN_PATH
        token = await request_token(config.http, vendor=VENDOR, url=url, form=form, clock=config.clock)
        return credential_updates(token)

    session = OAuthSession(
        vendor=VENDOR,
        credentials=credentials,
        refresher=refresh if refreshable else None,
        on_refreshed=config.on_credentials_refreshed,
        clock=config.clock,
    )
    client = VendorClient(
        vendor=VENDOR,
        http=config.http,
        base_url=lambda: api,
        auth=session,
        error_for=lambda response: hubspot_error(response, clock=config.clock),
    )
    return HubSpotCRM(
        client=client,
        fields=FieldMapping.build(
            vendor=VENDOR, defaults=DEFAULT_FIELDS, mappable=MAPPABLE_FIELDS, overrides=config.field_mapping
        ),
        outcomes=outcome_values(vendor=VENDOR, defaults=DEFAULT_OUTCOMES, overrides=config.outcome_mapping),
        settings=settings,
    )
