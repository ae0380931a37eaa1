"""From each provider's payload to one shape: the lead a webhook tells us about, and the consent it carries.

Pure functions over parsed JSON. Thin payloads (HubSpot, Follow Up Boss, Zoho) name record ids only:
:func:`thin_ids` says which to fetch, and :func:`from_contact` turns a fetched record into :class:`LeadFacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, IPvAnyAddress, ValidationError
from pydantic.alias_generators import to_camel

from seiketsu.errors import FieldError, ValidationFailed
from seiketsu.phones import InvalidPhoneNumber, normalize_phone
from seiketsu.schemas import UtcDateTime
from webhooks.models import Provider


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """Consent the form recorded: the words shown, the page, the moment and the visitor's address."""

    text: str
    page_url: str | None
    granted_at: datetime
    ip_address: str | None


@dataclass(frozen=True, slots=True)
class LeadFacts:
    phone: str | None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    source: str = "webhook"
    consent: ConsentFacts | None = None
    state: str | None = None
    postal_code: str | None = None


def phone_or_none(raw: object) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber:
        return None


def split_name(name: str | None) -> tuple[str | None, str | None]:
    if not name or not name.strip():
        return None, None
    first, _, last = name.strip().partition(" ")
    return first or None, last.strip() or None


# --- the generic web-form webhook


class _Form(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True)


class FormConsent(_Form):
    text: str = Field(min_length=1, max_length=5000)
    page_url: str | None = Field(default=None, max_length=2000)
    granted_at: UtcDateTime | None = None
    ip_address: IPvAnyAddress | None = None


class FormLead(_Form):
    """The generic webhook's body: a lead from a web form or an automation tool (extra fields are ignored)."""

    phone: str = Field(min_length=1, max_length=40)
    email: EmailStr | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=50)
    state: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    postal_code: str | None = Field(default=None, pattern=r"^\d{5}(-\d{4})?$")
    consent: FormConsent | None = None


def parse_form(body: Any) -> FormLead:
    """The generic body, or ValidationFailed naming each bad field (``body.phone``, ``body.consent.text``)."""
    try:
        form = FormLead.model_validate(body)
    except ValidationError as exc:
        errors = [FieldError(".".join(["body", *(str(p) for p in err["loc"])]), err["msg"]) for err in exc.errors()]
        raise ValidationFailed(errors) from exc
    if phone_or_none(form.phone) is None:
        raise ValidationFailed([FieldError("body.phone", "not a valid phone number")])
    return form


def from_form(body: Mapping[str, Any], *, received_at: datetime, client_ip: str | None) -> LeadFacts:
    form = FormLead.model_validate(body)
    first, last = form.first_name, form.last_name
    if not (first or last):
        first, last = split_name(form.name)
    consent = None
    if form.consent is not None:
        ip = form.consent.ip_address
        consent = ConsentFacts(
            text=form.consent.text,
            page_url=form.consent.page_url,
            granted_at=form.consent.granted_at or received_at,
            ip_address=str(ip) if ip is not None else client_ip,
        )
    return LeadFacts(
        phone=phone_or_none(form.phone),
        email=str(form.email) if form.email else None,
        first_name=first,
        last_name=last,
        source=form.source or "web_form",
        consent=consent,
        state=form.state.upper() if form.state else None,
        postal_code=form.postal_code,
    )


# --- CRMs

_HUBSPOT_CONTACT_EVENTS = frozenset({"contact.creation", "contact.propertyChange", "contact.restore"})
_FUB_PEOPLE_EVENTS = frozenset({"peopleCreated", "peopleUpdated"})
_ZOHO_OPERATIONS = frozenset({"insert", "update"})


def thin_ids(provider: Provider, payload: Mapping[str, Any]) -> list[str]:
    """The CRM record ids a thin event asks us to fetch; empty when the event is not about a new or changed lead."""
    if provider is Provider.HUBSPOT:
        kind = payload.get("subscriptionType")
        is_contact = kind in _HUBSPOT_CONTACT_EVENTS or (
            kind in ("object.creation", "object.propertyChange") and payload.get("objectType") in ("contact", "0-1")
        )
        object_id = payload.get("objectId")
        return [str(object_id)] if is_contact and object_id is not None else []
    if provider is Provider.FOLLOWUPBOSS:
        if payload.get("event") not in _FUB_PEOPLE_EVENTS:
            return []
        return [str(i) for i in payload.get("resourceIds") or [] if isinstance(i, int | str)]
    if provider is Provider.ZOHO:
        if payload.get("operation") not in _ZOHO_OPERATIONS:
            return []
        return [str(i) for i in payload.get("ids") or [] if isinstance(i, int | str)]
    return []


def from_contact(
    *, name: str | None, phone: str | None, email: str | None, source: str, first: str | None = None
) -> LeadFacts:
    first_name, last_name = split_name(name)
    return LeadFacts(
        phone=phone_or_none(phone),
        email=email or None,
        first_name=first or first_name,
        last_name=last_name,
        source=source,
    )


def _first(entries: Any) -> str | None:
    if not isinstance(entries, list):
        return None
    values = [e for e in entries if isinstance(e, dict) and e.get("value")]
    primary = [e for e in values if e.get("primary")]
    chosen = (primary or values)[:1]
    return str(chosen[0]["value"]) if chosen else None


def from_pipedrive(payload: Mapping[str, Any]) -> LeadFacts | None:
    """A Pipedrive v2 person event carries the person itself."""
    meta = payload.get("meta") or {}
    data = payload.get("data")
    if meta.get("entity") != "person" or meta.get("action") not in ("create", "change") or not isinstance(data, dict):
        return None
    first, last = data.get("first_name"), data.get("last_name")
    if not (first or last):
        first, last = split_name(data.get("name"))
    return LeadFacts(
        phone=phone_or_none(_first(data.get("phones"))),
        email=_first(data.get("emails")),
        first_name=first or None,
        last_name=last or None,
        source="pipedrive",
    )
