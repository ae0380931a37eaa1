"""Gathering the gate's facts from the database for a batch of questions (one statement, see ``fact_query``).

Questions the database cannot answer (an unknown lead, a lead with another number) come back as problems; the
service turns them into blocked decisions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy.engine import Connection

from compliance.consent import ConsentKind
from compliance.context import consent_in_force
from compliance.ebr import BusinessRelationship
from compliance.errors import InvalidPhoneNumberError
from compliance.fact_query import FactQuery, Found, LeadFacts
from compliance.facts import Address, GateFacts, InternalDncEntry, OptOutConfirmation, RegistryListing
from compliance.gate import registries_to_consult
from compliance.internal_dnc import NOT_LISTED
from compliance.phones import parse_phone, to_e164
from compliance.reassigned import ReassignedNumbers
from compliance.rulebook import RuleBook
from compliance.vocabulary import Channel, Purpose, VoiceKind

# The longest frequency-cap period of any rule; attempts older than this never count.
ATTEMPT_LOOKBACK = timedelta(hours=24)
_NANP_E164 = re.compile(r"^\+1[2-9]\d\d[2-9]\d{6}$")
# Immutable values shared by every question that has no lead and no Do-Not-Call history.
_NO_RELATIONSHIP = BusinessRelationship()
_NO_ADDRESS = Address()


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One question for the gate. ``at`` defaults to now; ``state`` and ``postal_code`` default to the lead's."""

    phone: str
    channel: Channel
    purpose: Purpose
    voice: VoiceKind | None = None
    at: datetime | None = None
    lead_id: uuid.UUID | None = None
    state: str | None = None
    postal_code: str | None = None
    opt_out_confirmation: bool = False
    """The text would confirm an opt-out (one, without marketing, within 5 minutes)."""


@dataclass(frozen=True, slots=True)
class Gathered:
    """The facts for one request, or why there are none."""

    request: CheckRequest
    at: datetime
    phone: str
    """E.164 when the input could be normalised, else the input as given."""
    facts: GateFacts | None
    problem: str | None = None
    lead_id: uuid.UUID | None = None
    address: Address = field(default_factory=Address)


def normalise_phone(raw: str) -> str | None:
    """E.164, without the full parser for numbers already in NANP E.164 form; None if it is no number."""
    if _NANP_E164.match(raw) and raw[3:5] != "11" and raw[6:8] != "11":
        return raw
    try:
        return to_e164(raw)
    except InvalidPhoneNumberError:
        return None


class FactGatherer:
    """Reads what the gate needs to know about a batch of questions of one organization."""

    def __init__(self, *, rulebook: RuleBook, reassigned: ReassignedNumbers) -> None:
        self._rulebook = rulebook
        self._reassigned = reassigned
        self._query = FactQuery()

    def gather(
        self, conn: Connection, organization_id: uuid.UUID, requests: Sequence[CheckRequest], *, now: datetime
    ) -> list[Gathered]:
        ats = [r.at or now for r in requests]
        phones = [normalise_phone(r.phone) for r in requests]
        known = sorted({p for p in phones if p is not None})
        nanp = [p for p in known if _NANP_E164.match(p)]
        found = self._query.read(
            conn,
            organization_id,
            phones=known,
            lead_ids=sorted({r.lead_id for r in requests if r.lead_id is not None}),
            area_codes=sorted({p[2:5] for p in nanp}),
            numbers=[int(p[2:]) for p in nanp],
            earliest=min(ats),
            since=min(ats) - ATTEMPT_LOOKBACK,
            until=max(ats) + ATTEMPT_LOOKBACK,
        )
        gathered = []
        registries: dict[tuple[str, str | None, str | None], tuple[str, ...]] = {}
        for request, at, phone in zip(requests, ats, phones, strict=True):
            lead, problem = _lead_for(request, phone, found)
            address = _address(request, lead)
            consult = self._registries(request, phone, address, registries)
            gathered.append(self._one(request, at, phone, lead, problem, address, consult, found))
        return self._with_reassigned(gathered)

    def _registries(
        self,
        request: CheckRequest,
        phone: str | None,
        address: Address,
        known: dict[tuple[str, str | None, str | None], tuple[str, ...]],
    ) -> tuple[str, tuple[str, ...]] | None:
        """The registries binding this question (marketing only), cached per area code and address: for a valid
        number they depend on nothing else (an invalid one may miss its area code's state, so it is not cached)."""
        if request.purpose is not Purpose.MARKETING or phone is None or not _NANP_E164.match(phone):
            return None
        key = (phone[:5], address.state, address.postal_code)
        cached = known.get(key)
        if cached is not None:
            return phone, cached
        registries = registries_to_consult(phone, address, self._rulebook)
        try:
            parse_phone(phone)
        except InvalidPhoneNumberError:
            return phone, registries
        known[key] = registries
        return phone, registries

    def _one(
        self,
        request: CheckRequest,
        at: datetime,
        phone: str | None,
        lead: LeadFacts | None,
        problem: str | None,
        address: Address,
        consult: tuple[str, tuple[str, ...]] | None,
        found: Found,
    ) -> Gathered:
        key = phone or request.phone
        if problem is not None:
            return Gathered(request=request, at=at, phone=key, facts=None, problem=problem)
        status = found.statuses.get(key, NOT_LISTED)
        if lead is None and status.last_request_at is None:
            relationship = _NO_RELATIONSHIP
        else:
            relationship = BusinessRelationship(
                last_inquiry_at=lead.last_inquiry_at if lead else None,
                last_transaction_at=lead.last_transaction_at if lead else None,
                last_dnc_request_at=status.last_request_at,
            )
        facts = GateFacts(
            phone=key,
            channel=request.channel,
            purpose=request.purpose,
            at=at,
            voice=request.voice,
            address=address,
            consent_events=tuple(found.events.get(key, ())),
            internal_dnc=InternalDncEntry(status.listed_since) if status.listed_since is not None else None,
            registry_listings=_listings(consult, found),
            relationship=relationship,
            recent_attempts=tuple(a for a in found.attempts.get(key, ()) if a > at - ATTEMPT_LOOKBACK),
            opt_out_confirmation=_confirmation(request, key, at, found),
        )
        return Gathered(
            request=request, at=at, phone=key, facts=facts, lead_id=lead.id if lead else None, address=address
        )

    def _with_reassigned(self, gathered: list[Gathered]) -> list[Gathered]:
        if not self._reassigned.enabled:
            return gathered
        queries: dict[str, date] = {}
        for item in gathered:
            facts = item.facts
            if facts is None:
                continue
            consent = consent_in_force(facts)
            needed = ConsentKind.WRITTEN if facts.purpose is Purpose.MARKETING else ConsentKind.EXPRESS
            day = consent.granted_on(needed) or consent.granted_on(ConsentKind.EXPRESS)
            if day is not None:
                queries[item.phone] = min(day, queries.get(item.phone, day))
        answers = self._reassigned.lookup(queries) if queries else {}
        return [
            replace(item, facts=replace(item.facts, reassigned_number=answers[item.phone]))
            if item.facts is not None and item.phone in answers
            else item
            for item in gathered
        ]


def _lead_for(request: CheckRequest, phone: str | None, found: Found) -> tuple[LeadFacts | None, str | None]:
    if request.lead_id is None:
        return (found.leads_by_phone.get(phone) if phone else None), None
    lead = found.leads_by_id.get(request.lead_id)
    if lead is None:
        return None, f"lead {request.lead_id} not found"
    if phone is not None and lead.phone != phone:
        # A lead's relationship is with its own number; lending it to another number could exempt a stranger.
        return None, f"lead {request.lead_id} has another phone number"
    return lead, None


def _address(request: CheckRequest, lead: LeadFacts | None) -> Address:
    if request.state or request.postal_code:
        return Address(state=request.state, postal_code=request.postal_code)
    if lead is not None:
        return Address(state=lead.state, postal_code=lead.postal_code)
    return _NO_ADDRESS


def _listings(consult: tuple[str, tuple[str, ...]] | None, found: Found) -> tuple[RegistryListing, ...]:
    if consult is None:
        return ()
    phone, registries = consult
    number, area_code = int(phone[2:]), phone[2:5]
    listings = []
    for name in registries:
        as_of = found.copies.get((name, area_code))
        if as_of is None:
            continue  # no copy of this area code: the gate blocks marketing for want of it
        listings.append(_listing(name, as_of, (name, number) in found.listed))
    return tuple(listings)


@lru_cache(maxsize=4096)
def _listing(registry: str, copy_as_of: date, listed: bool) -> RegistryListing:
    """One value per registry copy and answer: a batch's numbers share them."""
    return RegistryListing(registry=registry, listed=listed, copy_as_of=copy_as_of)


def _confirmation(request: CheckRequest, phone: str, at: datetime, found: Found) -> OptOutConfirmation | None:
    if not request.opt_out_confirmation:
        return None
    opt_outs = [t for t in found.text_opt_outs.get(phone, ()) if t <= at]
    if not opt_outs:
        return None  # nothing to confirm: the text is judged like any other
    opted_out_at = max(opt_outs)
    sent = sum(1 for t in found.confirmations.get(phone, ()) if t >= opted_out_at)
    return OptOutConfirmation(opted_out_at=opted_out_at, confirmations_sent=sent)
