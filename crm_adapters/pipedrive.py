"""Pipedrive over API v2 (persons, activities) and v1 where v2 has no equivalent (call logs, users).

Credentials: ``api_token``, sent as the ``x-api-token`` header. Requests go to the company domain
(``https://{company_domain}.pipedrive.com``), as Pipedrive recommends.

Idempotency: Pipedrive has no upsert and no external ids. Persons are searched by email, then phone, and
updated or created; call logs carry our call id in their note, activities (tasks, meetings) our id's tag as
a subject suffix. After a lost answer the record is looked for before it is created again, in lists rather
than the search index, which lags writes: the persons and the contact's activities updated since the first
attempt, and the call logs. Our lead id can still be stored in a custom person field by mapping ``lead_id``.
Custom fields (qualification answers, ``lead_id``) map to the account's 40-character field keys.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from crm_adapters.config import AdapterConfig, parse_settings, require_credentials
from crm_adapters.errors import (
    CRMConfigError,
    CRMError,
    PermanentCRMError,
    RetryableCRMError,
    parse_retry_after,
    parse_seconds,
)
from crm_adapters.field_mapping import LEAD_ID_FIELD, QUALIFICATION_FIELDS, FieldMapping, outcome_values
from crm_adapters.hosts import DNS_LABEL, HostRule
from crm_adapters.rendering import call_id_line, call_note_html, iso_utc, tagged, utc_date, utc_time
from crm_adapters.values import (
    Appointment,
    CallLog,
    CallOutcome,
    Contact,
    ContactMatch,
    FollowUpTask,
    TaskType,
)
from crm_adapters.vendor_http import ErrorDetail, StaticAuth, VendorClient, classify, json_or_none, require_id

VENDOR = "pipedrive"

MAPPABLE_FIELDS = QUALIFICATION_FIELDS | {LEAD_ID_FIELD}
DEFAULT_FIELDS: dict[str, str] = {}
"""Custom field keys differ per account (``GET /api/v2/personFields``); nothing maps by default."""

COMPANY_HOST = HostRule.matching("https://{company_domain}.pipedrive.com", rf"{DNS_LABEL}\.pipedrive\.com")
COMPANY_DOMAIN = re.compile(DNS_LABEL)

LIST_LIMIT = 100
"""Items per page of a v2 list (at most 500)."""
CALL_LOG_PAGE = 50
"""Call logs per page of the v1 list."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far Pipedrive's clock may be behind ours when a list is asked for what changed since a moment."""

DEFAULT_OUTCOMES = {
    CallOutcome.CONNECTED: "connected",
    CallOutcome.NO_ANSWER: "no_answer",
    CallOutcome.BUSY: "busy",
    CallOutcome.VOICEMAIL: "left_voicemail",
    CallOutcome.WRONG_NUMBER: "wrong_number",
    CallOutcome.FAILED: "no_answer",
}


@dataclass(frozen=True, slots=True)
class PipedriveSettings:
    company_domain: str | None = None
    """``acme`` for ``https://acme.pipedrive.com``."""
    base_url: str | None = None
    """The company URL in full (``https://acme.pipedrive.com``), instead of ``company_domain``."""
    owner_id: str | None = None
    """Pipedrive user id that owns created persons, call logs and activities."""


def pipedrive_error(response: httpx.Response, *, clock: Callable[[], float]) -> CRMError:
    """Classify Pipedrive's ``{"success": false, "error": ...}`` envelope.

    A 403 that is not JSON is Cloudflare blocking a client that kept sending after a 429: retryable.
    """
    body = json_or_none(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=clock())
    if retry_after is None and response.status_code == 429:
        retry_after = parse_seconds(response.headers.get("x-ratelimit-reset"))
    if response.status_code == 403 and not isinstance(body, dict):
        return RetryableCRMError(
            "blocked by the rate-limit firewall", vendor=VENDOR, status=403, retry_after=retry_after
        )
    body = body if isinstance(body, dict) else {}
    message = " - ".join(str(part) for part in (body.get("error"), body.get("error_info")) if part)
    code = body.get("error_code") or body.get("errorCode")
    detail = ErrorDetail(code=str(code) if code else None, message=message)
    return classify(response, vendor=VENDOR, detail=detail, retry_after=retry_after)


def _first_value(entries: Any) -> str | None:
    """The first of Pipedrive's ``["+1555..."]`` or ``[{"value": "+1555..."}]`` lists."""
    if not isinstance(entries, list) or not entries:
        return None
    first = entries[0]
    value = first.get("value") if isinstance(first, dict) else first
    return str(value) if value else None


def _html_paragraphs(lines: list[str]) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)


def _match(person: Mapping[str, Any]) -> ContactMatch:
    """A person as search items (``["+1555..."]``) and list entries (``[{"value": ...}]``) both show it."""
    return ContactMatch(
        id=require_id(person, vendor=VENDOR),
        name=person.get("name"),
        email=_first_value(person.get("emails")),
        phone=_first_value(person.get("phones")),
    )


def _person_id(contact_id: str) -> int:
    if not contact_id.isdigit():
        raise PermanentCRMError(f"not a Pipedrive person id: {contact_id!r}", vendor=VENDOR)
    return int(contact_id)


class PipedriveCRM:
    """Pipedrive adapter; see the module docstring for idempotency."""

    crm_type = VENDOR

    def __init__(
        self,
        *,
        client: VendorClient,
        fields: FieldMapping,
        outcomes: Mapping[CallOutcome, str],
        settings: PipedriveSettings,
    ) -> None:
        self._client = client
        self._fields = fields
        self._outcomes = outcomes
        self._owner_id = int(settings.owner_id) if settings.owner_id else None

    async def find_contact(self, *, phone: str | None = None, email: str | None = None) -> ContactMatch | None:
        if not phone and not email:
            raise ValueError("find_contact needs a phone or an email")
        for field, term in (("email", email), ("phone", phone)):
            if not term:
                continue
            params = {"term": term, "fields": field, "exact_match": "true"}
            answer = await self._client.request_json("GET", "/api/v2/persons/search", params=params)
            items = (answer.get("data") or {}).get("items") or []
            if items and isinstance(items[0], dict) and isinstance(item := items[0].get("item"), dict):
                return _match(item)
        return None

    async def _list_v2(self, path: str, params: Mapping[str, str | int]) -> AsyncIterator[dict[str, Any]]:
        """Every item of a v2 list, page after page (cursor pagination)."""
        cursor: str | None = None
        while True:
            page = {**params, "limit": LIST_LIMIT, **({"cursor": cursor} if cursor else {})}
            answer = await self._client.request_json("GET", path, params=page)
            for item in answer.get("data") or []:
                if isinstance(item, dict):
                    yield item
            cursor = (answer.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return

    async def _person_written_since(self, contact: Contact, since: datetime) -> ContactMatch | None:
        """The person with the contact's email or phone among those updated since ``since`` (a list, not the
        search index, which may not hold a person written moments ago)."""
        email = (contact.email or "").lower()
        async for person in self._list_v2("/api/v2/persons", {"updated_since": iso_utc(since - CLOCK_SKEW)}):
            emails = {str(e.get("value", "")).lower() for e in person.get("emails") or [] if isinstance(e, dict)}
            phones = {str(p.get("value", "")) for p in person.get("phones") or [] if isinstance(p, dict)}
            if (email and email in emails) or (contact.phone and contact.phone in phones):
                return _match(person)
        return None

    async def upsert_contact(self, contact: Contact, *, recheck_since: datetime | None = None) -> str:
        custom_fields = self._fields.apply(contact.field_values())
        existing = await self.find_contact(phone=contact.phone, email=contact.email)
        if existing is None and recheck_since is not None:
            existing = await self._person_written_since(contact, recheck_since)
        if existing is not None:
            # A PATCH of emails or phones would replace the person's whole list: only name and custom fields.
            update: dict[str, Any] = {}
            if contact.full_name:
                update["name"] = contact.full_name
            if custom_fields:
                update["custom_fields"] = custom_fields
            if update:
                await self._client.request("PATCH", f"/api/v2/persons/{_person_id(existing.id)}", json=update)
            return existing.id
        person: dict[str, Any] = {"name": contact.full_name or contact.phone or contact.email}
        if contact.email:
            person["emails"] = [{"value": contact.email, "primary": True, "label": "work"}]
        if contact.phone:
            person["phones"] = [{"value": contact.phone, "primary": True, "label": "mobile"}]
        if custom_fields:
            person["custom_fields"] = custom_fields
        if self._owner_id is not None:
            person["owner_id"] = self._owner_id
        created = await self._client.request_json("POST", "/api/v2/persons", json=person)
        return require_id(created.get("data"), vendor=VENDOR)

    async def _call_logged(self, call: CallLog, person_id: int) -> str | None:
        """The id of the person's call log whose note names our call id; the v1 list, page after page."""
        marker = html.escape(call_id_line(call))
        start = 0
        while True:
            params = {"start": start, "limit": CALL_LOG_PAGE}
            answer = await self._client.request_json("GET", "/api/v1/callLogs", params=params)
            for logged in answer.get("data") or []:
                if (
                    isinstance(logged, dict)
                    and logged.get("person_id") == person_id
                    and marker in str(logged.get("note") or "")
                ):
                    return require_id(logged, vendor=VENDOR)
            pagination = (answer.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return None
            start = int(pagination.get("next_start") or start + CALL_LOG_PAGE)

    async def log_call(self, call: CallLog, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        outcome = self._outcomes.get(call.outcome)
        if outcome is None:
            raise CRMConfigError(f"no Pipedrive outcome mapped for {call.outcome.value}", vendor=VENDOR)
        person_id = _person_id(contact_id)
        if recheck_since is not None and (logged := await self._call_logged(call, person_id)):
            return logged
        body: dict[str, Any] = {
            "person_id": person_id,
            "subject": call.title,
            "duration": str(call.duration_seconds),
            "outcome": outcome,
            "from_phone_number": call.from_number,
            "to_phone_number": call.to_number,
            "start_time": iso_utc(call.started_at),
            "end_time": iso_utc(call.ended_at),
            "note": call_note_html(call),
        }
        if self._owner_id is not None:
            body["user_id"] = self._owner_id
        created = await self._client.request_json("POST", "/api/v1/callLogs", json=body)
        return require_id(created.get("data"), vendor=VENDOR)

    async def create_task(self, task: FollowUpTask, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        activity = {
            "subject": tagged(task.title, task.task_id),
            "type": "call" if task.task_type is TaskType.CALL else "task",
            "due_date": utc_date(task.due_at),
            "due_time": utc_time(task.due_at),
            "note": _html_paragraphs([task.notes]),
        }
        return await self._create_activity(activity, contact_id=contact_id, recheck_since=recheck_since)

    async def create_appointment(
        self, appointment: Appointment, *, contact_id: str, recheck_since: datetime | None = None
    ) -> str:
        minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
        location = f"Location: {appointment.location}" if appointment.location else ""
        activity = {
            "subject": tagged(appointment.title, appointment.appointment_id),
            "type": "meeting",
            "due_date": utc_date(appointment.starts_at),
            "due_time": utc_time(appointment.starts_at),
            "duration": f"{minutes // 60:02d}:{minutes % 60:02d}",
            "note": _html_paragraphs([appointment.notes, location]),
        }
        return await self._create_activity(activity, contact_id=contact_id, recheck_since=recheck_since)

    async def _create_activity(
        self, activity: dict[str, Any], *, contact_id: str, recheck_since: datetime | None
    ) -> str:
        person_id = _person_id(contact_id)
        if recheck_since is not None:
            params: dict[str, str | int] = {
                "person_id": person_id,
                "updated_since": iso_utc(recheck_since - CLOCK_SKEW),
            }
            async for written in self._list_v2("/api/v2/activities", params):
                if written.get("subject") == activity["subject"]:
                    return require_id(written, vendor=VENDOR)
        activity["done"] = False
        activity["participants"] = [{"person_id": person_id, "primary": True}]
        if self._owner_id is not None:
            activity["owner_id"] = self._owner_id
        created = await self._client.request_json("POST", "/api/v2/activities", json=activity)
        return require_id(created.get("data"), vendor=VENDOR)

    async def test_connection(self) -> None:
        await self._client.request("GET", "/api/v1/users/me")


def build_pipedrive(config: AdapterConfig) -> PipedriveCRM:
    """A Pipedrive adapter from an integration's configuration."""
    settings = parse_settings(PipedriveSettings, config.settings, vendor=VENDOR)
    require_credentials(config.credentials, ("api_token",), vendor=VENDOR)
    if settings.company_domain is not None and not COMPANY_DOMAIN.fullmatch(settings.company_domain):
        raise CRMConfigError(
            "company_domain must be the company's DNS label alone (acme for https://acme.pipedrive.com)",
            vendor=VENDOR,
            field="settings.company_domain",
        )
    if settings.base_url:
        company = COMPANY_HOST.origin(settings.base_url, vendor=VENDOR, field="settings.base_url")
    elif settings.company_domain:
        company = f"https://{settings.company_domain}.pipedrive.com"
    else:
        raise CRMConfigError("missing setting: company_domain", vendor=VENDOR, field="settings.company_domain")
    base_url = config.base_url or company
    if settings.owner_id and not settings.owner_id.isdigit():
        raise CRMConfigError("owner_id must be a Pipedrive user id (a number)", vendor=VENDOR)
    client = VendorClient(
        vendor=VENDOR,
        http=config.http,
        base_url=lambda: base_url,
        auth=StaticAuth({"x-api-token": config.credentials["api_token"]}),
        error_for=lambda response: pipedrive_error(response, clock=config.clock),
    )
    return PipedriveCRM(
        client=client,
        fields=FieldMapping.build(
            vendor=VENDOR, defaults=DEFAULT_FIELDS, mappable=MAPPABLE_FIELDS, overrides=config.field_mapping
        ),
        outcomes=outcome_values(vendor=VENDOR, defaults=DEFAULT_OUTCOMES, overrides=config.outcome_mapping),
        settings=settings,
    )
