"""Salesforce over the REST API (Lead, Contact, Task, Event) at a pinned API version.

Credentials: ``access_token`` and ``instance_url``; with ``refresh_token``, ``client_id`` and
``client_secret`` a 401 ``INVALID_SESSION_ID`` refreshes the token and retries once (Salesforce tokens
carry no expiry; their lifetime is the org's session timeout).

Idempotency: leads are upserted by our lead id in an External ID field (``lead_id`` mapping, default
``Seiketsu_Lead_Id__c``, which the org must have). Calls are Tasks with ``TaskSubtype = Call`` whose
standard ``CallObject`` field holds our call id; a call already logged under that id is returned. Follow-up
tasks and events carry our id's tag as a subject suffix; after a lost answer a SOQL query on the contact's
tasks or events with that subject finds the one written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import phonenumbers

from crm_adapters.config import AdapterConfig, parse_settings
from crm_adapters.errors import CRMConfigError, CRMError, parse_retry_after
from crm_adapters.field_mapping import (
    IDENTITY_FIELDS,
    LEAD_ID_FIELD,
    QUALIFICATION_FIELDS,
    FieldMapping,
    outcome_values,
)
from crm_adapters.hosts import DNS_LABEL, HostRule
from crm_adapters.oauth import OAuthSession, can_refresh, credential_updates, request_token
from crm_adapters.rendering import call_note_text, iso_utc, tagged, utc_date
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

VENDOR = "salesforce"

SALESFORCE_API_VERSION = "v66.0"
"""The REST API version in every data path (Spring '26)."""

DATA_PATH = f"/services/data/{SALESFORCE_API_VERSION}"
DEFAULT_LOGIN_URL = "https://login.salesforce.com"
TOKEN_PATH = "/services/oauth2/token"

MY_DOMAIN = rf"(?:{DNS_LABEL}\.)+my\.salesforce\.com"
INSTANCE_HOST = HostRule.matching("the org's My Domain, https://{domain}.my.salesforce.com", MY_DOMAIN)
LOGIN_HOST = HostRule.matching(
    "https://login.salesforce.com, https://test.salesforce.com or the org's https://{domain}.my.salesforce.com",
    rf"(?:login|test)\.salesforce\.com|{MY_DOMAIN}",
)

DEFAULT_FIELDS = {
    "first_name": "FirstName",
    "last_name": "LastName",
    "email": "Email",
    "phone": "Phone",
    "lead_source": "LeadSource",
    LEAD_ID_FIELD: "Seiketsu_Lead_Id__c",
}
MAPPABLE_FIELDS = IDENTITY_FIELDS | QUALIFICATION_FIELDS | {LEAD_ID_FIELD}

DEFAULT_OUTCOMES = {
    CallOutcome.CONNECTED: "Connected",
    CallOutcome.NO_ANSWER: "No Answer",
    CallOutcome.BUSY: "Busy",
    CallOutcome.VOICEMAIL: "Left Voicemail",
    CallOutcome.WRONG_NUMBER: "Wrong Number",
    CallOutcome.FAILED: "Failed",
}
"""``CallDisposition`` is free text (255 characters), so these are labels rather than picklist keys."""


@dataclass(frozen=True, slots=True)
class SalesforceSettings:
    instance_url: str | None = None
    """Overrides the ``instance_url`` of the credentials (another My Domain of the same org)."""
    login_url: str = DEFAULT_LOGIN_URL
    """``https://test.salesforce.com`` for sandboxes, or the org's My Domain."""
    owner_id: str | None = None
    default_company: str | None = None
    """``Company`` for leads (Salesforce requires one); the lead's name when not set."""


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    body = json_or_none(response)
    entries = body if isinstance(body, list) else [body]
    return [entry for entry in entries if isinstance(entry, dict)]


def salesforce_error(response: httpx.Response, *, clock: Callable[[], float]) -> CRMError:
    """Classify Salesforce's ``[{"message", "errorCode"}]`` bodies; ``REQUEST_LIMIT_EXCEEDED`` is a quota."""
    errors = _errors(response)
    first = errors[0] if errors else {}
    code = first.get("errorCode")
    message = str(first.get("message") or "")
    if response.status_code == 300:
        message = "the external id matched more than one record"
    return classify(
        response,
        vendor=VENDOR,
        detail=ErrorDetail(code=str(code) if code else None, message=message),
        retry_after=parse_retry_after(response.headers.get("Retry-After"), now=clock()),
        quota_exhausted=code == "REQUEST_LIMIT_EXCEEDED",
    )


def session_expired(response: httpx.Response) -> bool:
    return response.status_code == 401 and any(
        entry.get("errorCode") == "INVALID_SESSION_ID" for entry in _errors(response)
    )


def soql_literal(value: str) -> str:
    """``value`` as a quoted SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def phone_search_term(phone: str) -> str:
    """The national digits of an E.164 number: SOSL matches them however the CRM formatted the phone."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in phone if ch.isdigit())
    return phonenumbers.national_significant_number(parsed)


class SalesforceCRM:
    """Salesforce adapter; see the module docstring for authentication and idempotency."""

    crm_type = VENDOR

    def __init__(
        self,
        *,
        client: VendorClient,
        fields: FieldMapping,
        outcomes: Mapping[CallOutcome, str],
        settings: SalesforceSettings,
    ) -> None:
        self._client = client
        self._fields = fields
        self._outcomes = outcomes
        self._settings = settings
        lead_id_field = fields.crm_field(LEAD_ID_FIELD)
        if not lead_id_field:
            raise CRMConfigError("lead_id must be mapped to a Lead External ID field", vendor=VENDOR)
        self._lead_id_field = lead_id_field

    async def _query(self, soql: str) -> list[dict[str, Any]]:
        answer = await self._client.request_json("GET", f"{DATA_PATH}/query", params={"q": soql})
        return [record for record in answer.get("records", []) if isinstance(record, dict)]

    async def find_contact(self, *, phone: str | None = None, email: str | None = None) -> ContactMatch | None:
        if not phone and not email:
            raise ValueError("find_contact needs a phone or an email")
        if email:
            for soql in (
                f"SELECT Id, Name, Email, Phone FROM Lead WHERE Email = {soql_literal(email)} "
                "AND IsConverted = false LIMIT 1",
                f"SELECT Id, Name, Email, Phone FROM Contact WHERE Email = {soql_literal(email)} LIMIT 1",
            ):
                if records := await self._query(soql):
                    return _match(records[0])
        if phone:
            sosl = (
                f"FIND {{{phone_search_term(phone)}}} IN PHONE FIELDS RETURNING "
                "Lead(Id, Name, Email, Phone WHERE IsConverted = false LIMIT 1), "
                "Contact(Id, Name, Email, Phone LIMIT 1)"
            )
            answer = await self._client.request_json("GET", f"{DATA_PATH}/search/", params={"q": sosl})
            records = [r for r in answer.get("searchRecords", []) if isinstance(r, dict)]
            if records:
                return _match(records[0])
        return None

    async def upsert_contact(self, contact: Contact, *, recheck_since: datetime | None = None) -> str:
        body: dict[str, Any] = self._fields.apply(contact.field_values())
        body.pop(self._lead_id_field, None)  # the key travels in the URL
        body.setdefault("LastName", contact.last_name or contact.first_name or "Unknown")
        body.setdefault("Company", self._settings.default_company or contact.full_name or contact.phone or "Unknown")
        if self._settings.owner_id:
            body["OwnerId"] = self._settings.owner_id
        path = f"{DATA_PATH}/sobjects/Lead/{self._lead_id_field}/{quote(contact.lead_id, safe='')}"
        answer = await self._client.request_json("PATCH", path, json=body)
        if answer:
            return require_id(answer, vendor=VENDOR)
        # Older API versions answer an update with 204 and no body; read the id back.
        record = await self._client.request_json("GET", path, params={"fields": "Id"})
        return require_id(record, vendor=VENDOR, key="Id")

    async def log_call(self, call: CallLog, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        logged = await self._query(f"SELECT Id FROM Task WHERE CallObject = {soql_literal(call.call_id)} LIMIT 1")
        if logged:
            return require_id(logged[0], vendor=VENDOR, key="Id")
        body: dict[str, Any] = {
            "Subject": call.title,
            "TaskSubtype": "Call",
            "Status": "Completed",
            "Priority": "Normal",
            "WhoId": contact_id,
            "ActivityDate": utc_date(call.started_at),
            "CallType": "Inbound" if call.direction is CallDirection.INBOUND else "Outbound",
            "CallDurationInSeconds": call.duration_seconds,
            "CallObject": call.call_id,
            "Description": call_note_text(call),
        }
        if disposition := self._outcomes.get(call.outcome):
            body["CallDisposition"] = disposition
        return await self._create("Task", body)

    async def create_task(self, task: FollowUpTask, *, contact_id: str, recheck_since: datetime | None = None) -> str:
        body: dict[str, Any] = {
            "Subject": tagged(task.title, task.task_id),
            "Status": "Not Started",
            "Priority": "Normal",
            "WhoId": contact_id,
            "ActivityDate": utc_date(task.due_at),
            "IsReminderSet": True,
            "ReminderDateTime": iso_utc(task.due_at),
            "Description": task.notes,
        }
        return await self._create("Task", body, recheck=recheck_since is not None)

    async def create_appointment(
        self, appointment: Appointment, *, contact_id: str, recheck_since: datetime | None = None
    ) -> str:
        body: dict[str, Any] = {
            "Subject": tagged(appointment.title, appointment.appointment_id),
            "StartDateTime": iso_utc(appointment.starts_at),
            "EndDateTime": iso_utc(appointment.ends_at),
            "WhoId": contact_id,
            "Description": appointment.notes,
        }
        if appointment.location:
            body["Location"] = appointment.location
        return await self._create("Event", body, recheck=recheck_since is not None)

    async def _create(self, sobject: str, body: dict[str, Any], *, recheck: bool = False) -> str:
        """Create the record; with ``recheck``, first look for the contact's record with the same (tagged) subject."""
        if recheck:
            soql = (
                f"SELECT Id FROM {sobject} WHERE WhoId = {soql_literal(body['WhoId'])} "
                f"AND Subject = {soql_literal(body['Subject'])} LIMIT 1"
            )
            if written := await self._query(soql):
                return require_id(written[0], vendor=VENDOR, key="Id")
        if self._settings.owner_id:
            body["OwnerId"] = self._settings.owner_id
        created = await self._client.request_json("POST", f"{DATA_PATH}/sobjects/{sobject}", json=body)
        return require_id(created, vendor=VENDOR)

    async def test_connection(self) -> None:
        """Reads the Lead description and checks that the lead id field is an External ID."""
        description = await self._client.request_json("GET", f"{DATA_PATH}/sobjects/Lead/describe")
        for described in description.get("fields", []):
            if isinstance(described, dict) and described.get("name") == self._lead_id_field:
                if described.get("externalId"):
                    return
                break
        raise CRMConfigError(f"Lead has no External ID field {self._lead_id_field}", vendor=VENDOR)


def _match(record: Mapping[str, Any]) -> ContactMatch:
    return ContactMatch(
        id=require_id(record, vendor=VENDOR, key="Id"),
        name=record.get("Name"),
        email=record.get("Email"),
        phone=record.get("Phone"),
    )


def build_salesforce(config: AdapterConfig) -> SalesforceCRM:
    """A Salesforce adapter from an integration's configuration."""
    settings = parse_settings(SalesforceSettings, config.settings, vendor=VENDOR)
    credentials = config.credentials
    refreshable = can_refresh(credentials)
    if not refreshable and not credentials.get("access_token"):
        raise CRMConfigError(
            "missing credentials: access_token, or refresh_token with client_id and client_secret",
            vendor=VENDOR,
        )
    login = LOGIN_HOST.origin(settings.login_url, vendor=VENDOR, field="settings.login_url")
    if settings.instance_url:
        instance: str | None = INSTANCE_HOST.origin(settings.instance_url, vendor=VENDOR, field="settings.instance_url")
    elif credentials.get("instance_url"):
        instance = None
        INSTANCE_HOST.origin(credentials["instance_url"], vendor=VENDOR, field="credentials.instance_url")
    else:
        raise CRMConfigError("missing credentials: instance_url", vendor=VENDOR)

    async def refresh(current: Mapping[str, str]) -> Mapping[str, str]:
        form = {
            "grant_type": "refresh_token",
            "client_id": current["client_id"],
            "client_secret": current["client_secret"],
            "refresh_token": current["refresh_token"],
        }
        url = (config.base_url or login).rstrip("/") + TOKEN_PATH
        token = await request_token(config.http, vendor=VENDOR, url=url, form=form, clock=config.clock)
        return credential_updates(token, extra=("instance_url",))

    session = OAuthSession(
        vendor=VENDOR,
        credentials=credentials,
        refresher=refresh if refreshable else None,
        on_refreshed=config.on_credentials_refreshed,
        clock=config.clock,
    )

    def api() -> str:
        fixed = config.base_url or instance
        if fixed:
            return fixed
        # checked on every request: a refresh may have brought another instance_url
        return INSTANCE_HOST.origin(
            session.credentials["instance_url"], vendor=VENDOR, field="credentials.instance_url"
        )

    client = VendorClient(
        vendor=VENDOR,
        http=config.http,
        base_url=api,
        auth=session,
        error_for=lambda response: salesforce_error(response, clock=config.clock),
        auth_expired=session_expired,
    )
    return SalesforceCRM(
        client=client,
        fields=FieldMapping.build(
            vendor=VENDOR, defaults=DEFAULT_FIELDS, mappable=MAPPABLE_FIELDS, overrides=config.field_mapping
        ),
        outcomes=outcome_values(vendor=VENDOR, defaults=DEFAULT_OUTCOMES, overrides=config.outcome_mapping),
        settings=settings,
    )
