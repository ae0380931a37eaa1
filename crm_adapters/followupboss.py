"""Follow Up Boss over its v1 API: leads arrive as events, calls as ``/v1/calls``, tasks and appointments.

Credentials: ``api_key`` (HTTP Basic username, empty password) and ``system_key``; every request also
names our registered system in ``X-System``.

Idempotency: FUB deduplicates people on email and phone when a lead arrives through ``POST /v1/events``
(its only supported way in for leads, which also runs the brokerage's lead routing and action plans).
Calls, tasks and appointments have no external ids: calls carry our call id in their note, tasks and
appointments our id's tag as a name or title suffix, and after a lost answer the person's calls, tasks or
appointments are listed and searched for it before the record is created again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from crm_adapters.config import AdapterConfig, parse_settings, require_credentials
from crm_adapters.errors import CRMConfigError, CRMError, PermanentCRMError, parse_retry_after, parse_seconds
from crm_adapters.field_mapping import LEAD_ID_FIELD, QUALIFICATION_FIELDS, FieldMapping, outcome_values
from crm_adapters.hosts import HostRule
from crm_adapters.rendering import call_id_line, call_note_text, iso_utc, qualification_text, tagged
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
from crm_adapters.vendor_http import ErrorDetail, StaticAuth, VendorClient, classify, json_or_none, require_id

VENDOR = "followupboss"

DEFAULT_BASE_URL = "https://api.followupboss.com"
API_HOST = HostRule.exactly([DEFAULT_BASE_URL])

LIST_LIMIT = 100
"""Records per page of a list (FUB's maximum)."""

MAPPABLE_FIELDS = QUALIFICATION_FIELDS | {LEAD_ID_FIELD}
DEFAULT_FIELDS: dict[str, str] = {}
"""Custom person fields (``customBudget`` ...) exist only where the account created them."""

DEFAULT_OUTCOMES = {
    CallOutcome.NO_ANSWER: "No Answer",
    CallOutcome.BUSY: "Busy",
    CallOutcome.VOICEMAIL: "Left Message",
    CallOutcome.WRONG_NUMBER: "Bad Number",
    CallOutcome.FAILED: "No Answer",
}
"""FUB's outcomes for a conversation (Interested, Not Interested) judge the lead; a connected call alone
does not, so ``connected`` maps to nothing unless the integration says otherwise."""


@dataclass(frozen=True, slots=True)
class FollowUpBossSettings:
    base_url: str = DEFAULT_BASE_URL
    system: str = "Seiketsu"
    """Our registered system name, sent as ``X-System`` and as the events' ``system``."""
    source: str = "Seiketsu AI voice agent"
    """The lead source of new leads that carry none; FUB's Lead Flow routes on it."""
    event_type: str = "General Inquiry"
    owner_id: str | None = None
    """FUB user id for tasks and appointments; without it they go to the lead's assigned agent."""


def followupboss_error(response: httpx.Response, *, clock: Callable[[], float]) -> CRMError:
    """Classify FUB's ``{"errorMessage": ...}``; a 429 waits ``Retry-After``, else the rate-limit window."""
    body = json_or_none(response)
    message = str(body.get("errorMessage") or "") if isinstance(body, dict) else ""
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=clock())
    if retry_after is None and response.status_code == 429:
        retry_after = parse_seconds(response.headers.get("X-RateLimit-Window"))
    return classify(response, vendor=VENDOR, detail=ErrorDetail(code=None, message=message), retry_after=retry_after)


def _person_id(contact_id: str) -> int:
    if not contact_id.isdigit():
        raise PermanentCRMError(f"not a Follow Up Boss person id: {contact_id!r}", vendor=VENDOR)
    return int(contact_id)


def _first_value(entries: Any) -> str | None:
    if isinstance(entries, list) and entries and isinstance(entries[0], dict) and entries[0].get("value"):
        return str(entries[0]["value"])
    return None


class FollowUpBossCRM:
    """Follow Up Boss adapter; see the module docstring for idempotency."""

    crm_type = VENDOR

    def __init__(
        self,
        *,
        client: VendorClient,
        fields: FieldMapping,
        outcomes: Mapping[CallOutcome, str],
        settings: FollowUpBossSettings,
    ) -> None:
        self._client = client
        self._fields = fields
        self._outcomes = outcomes
        self._settings = settings

    async def find_contact(self, *, phone: str | None = None, email: str | None = None) -> ContactMatch | None:
        if not phone and not email:
            raise ValueError("find_contact needs a phone or an email")
        for key, value in (("email", email), ("phone", phone)):
            if not value:
                continue
            answer = await self._client.request_json("GET", "/v1/people", params={key: value, "limit": 1})
            people = [person for person in answer.get("people", []) if isinstance(person, dict)]
            if people:
                return ContactMatch(
                    id=require_id(people[0], vendor=VENDOR),
                    name=people[0].get("name"),
                    email=_first_value(people[0].get("emails")),
                    phone=_first_value(people[0].get("phones")),
                )
        return None

    async def fetch_contact(self, contact_id: str) -> ContactMatch | None:
        """The person with Follow Up Boss id ``contact_id`` (a webhook names only ids); ``None`` if there is none."""
        try:
            person = await self._client.request_json("GET", f"/v1/people/{_person_id(contact_id)}")
        except PermanentCRMError as exc:
            if exc.status == 404:
                return None
            raise
        name = person.get("name") or " ".join(p for p in (person.get("firstName"), person.get("lastName")) if p)
        return ContactMatch(
            id=require_id(person, vendor=VENDOR),
            name=name or None,
            email=_first_value(person.get("emails")),
            phone=_first_value(person.get("phones")),
        )

    async def upsert_contact(self, contact: Contact, *, recheck_since: datetime | None = None) -> str:
        person: dict[str, Any] = {}
        if contact.first_name:
            person["firstName"] = contact.first_name
        if contact.last_name:
            person["lastName"] = contact.last_name
        if contact.email:
            person["emails"] = [{"value": contact.email}]
        if contact.phone:
            person["phones"] = [{"value": contact.phone}]
        person.update(self._fields.apply(contact.field_values()))
        source = contact.lead_source or self._settings.source
        event: dict[str, Any] = {
            "source": source,
            "system": self._settings.system,
            "type": self._settings.event_type,
            "person": person,
        }
        if message := qualification_text(contact.qualification):
            event["message"] = message
        answer = await self._client.request_json("POST", "/v1/events", json=event)
        if answer:
            return require_id(answer, vendor=VENDOR)
        # 204: the lead flow of this source is archived and FUB ignored the event.
        existing = await self.find_contact(phone=contact.phone, email=contact.email)
        if existing is None:
            raise PermanentCRMError(
                f"the lead flow for source {source!r} is archived; Follow Up Boss ignored the lead",
                vendor=VENDOR,
                status=204,
            )
        return existing.id

    async def _written(self, collection: str, person_id: int, found: Callable[[dict[str, Any]], bool]) -> str | None:
        """The id of the person's first record in ``collection`` (``calls``, ``tasks`` ...) that ``found`` accepts."""
        offset = 0
        while True:
            params = {"personId": person_id, "limit": LIST_LIMIT, "offset": offset}
            answer = await self._client.request_json("GET", f"/v1/{collection}", params=params)
            records = [record for record in answer.get(collection) or [] if isinstance(record, dict)]
            for record in records:
                if found(record):
                    return require_id(record, vendor=VENDOR)
            total = (answer.get("_metadata") or {}).get("total")
            offset += LIST_LIMIT
            if not records or not isinstance(total, int) or offset >= total:
                return None

    async def log_call(self, call: CallLog, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        person_id = _person_id(contact_id)
        marker = call_id_line(call)
        if recheck_since is not None and (
            logged := await self._written("calls", person_id, lambda record: marker in str(record.get("note")))
        ):
            return logged
        body: dict[str, Any] = {
            "personId": person_id,
            "phone": call.prospect_number,
            "isIncoming": call.direction is CallDirection.INBOUND,
            "duration": call.duration_seconds,
            "fromNumber": call.from_number,
            "toNumber": call.to_number,
            "note": call_note_text(call),
        }
        if outcome := self._outcomes.get(call.outcome):
            body["outcome"] = outcome
        if call.recording_url:
            body["recordingUrl"] = call.recording_url
        created = await self._client.request_json("POST", "/v1/calls", json=body)
        return require_id(created, vendor=VENDOR)

    async def _assignee(self, person_id: int) -> int | None:
        if self._settings.owner_id:
            return int(self._settings.owner_id)
        person = await self._client.request_json("GET", f"/v1/people/{person_id}")
        assigned = person.get("assignedUserId")
        return int(assigned) if isinstance(assigned, int) and assigned > 0 else None

    async def create_task(self, task: FollowUpTask, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        person_id = _person_id(contact_id)
        name = tagged(task.title, task.task_id)
        if recheck_since is not None and (
            written := await self._written("tasks", person_id, lambda record: record.get("name") == name)
        ):
            return written
        body: dict[str, Any] = {
            "personId": person_id,
            "name": name,
            "type": "Call" if task.task_type is TaskType.CALL else "Follow Up",
            "dueDateTime": iso_utc(task.due_at),
        }
        if (assignee := await self._assignee(person_id)) is not None:
            body["assignedUserId"] = assignee
        created = await self._client.request_json("POST", "/v1/tasks", json=body)
        return require_id(created, vendor=VENDOR)

    async def create_appointment(
        self, appointment: Appointment, *, contact_id: str, recheck_since: datetime | None = None
    ) -> str:
        person_id = _person_id(contact_id)
        title = tagged(appointment.title, appointment.appointment_id)
        if recheck_since is not None and (
            written := await self._written("appointments", person_id, lambda record: record.get("title") == title)
        ):
            return written
        invitees: list[dict[str, int]] = [{"personId": person_id}]
        if (assignee := await self._assignee(person_id)) is not None:
            invitees.append({"userId": assignee})
        body: dict[str, Any] = {
            "title": title,
            "start": iso_utc(appointment.starts_at),
            "end": iso_utc(appointment.ends_at),
            "description": appointment.notes,
            "invitees": invitees,
        }
        if appointment.location:
            body["location"] = appointment.location
        created = await self._client.request_json("POST", "/v1/appointments", json=body)
        return require_id(created, vendor=VENDOR)

    async def test_connection(self) -> None:
        await self._client.request("GET", "/v1/identity")


def basic_auth(username: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def build_followupboss(config: AdapterConfig) -> FollowUpBossCRM:
    """A Follow Up Boss adapter from an integration's configuration."""
    settings = parse_settings(FollowUpBossSettings, config.settings, vendor=VENDOR)
    documented = API_HOST.origin(settings.base_url, vendor=VENDOR, field="settings.base_url")
    api = config.base_url or documented
    require_credentials(config.credentials, ("api_key", "system_key"), vendor=VENDOR)
    if settings.owner_id and not settings.owner_id.isdigit():
        raise CRMConfigError("owner_id must be a Follow Up Boss user id (a number)", vendor=VENDOR)
    auth = StaticAuth(
        {
            "Authorization": basic_auth(config.credentials["api_key"]),
            "X-System": settings.system,
            "X-System-Key": config.credentials["system_key"],
        }
    )
    client = VendorClient(
        vendor=VENDOR,
        http=config.http,
        base_url=lambda: api,
        auth=auth,
        error_for=lambda response: followupboss_error(response, clock=config.clock),
    )
    return FollowUpBossCRM(
        client=client,
        fields=FieldMapping.build(
            vendor=VENDOR, defaults=DEFAULT_FIELDS, mappable=MAPPABLE_FIELDS, overrides=config.field_mapping
        ),
        outcomes=outcome_values(vendor=VENDOR, defaults=DEFAULT_OUTCOMES, overrides=config.outcome_mapping),
        settings=settings,
    )
