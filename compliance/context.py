"""What the gate derives from the facts once, before the rules read it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from compliance.consent import ConsentKind, EffectiveConsent, effective_consent
from compliance.decision import Check, Verdict
from compliance.ebr import EbrStatus, ebr_status
from compliance.errors import InvalidPhoneNumberError, MissingFactError
from compliance.facts import Address, GateFacts, RegistryListing
from compliance.geography import Geography
from compliance.phones import PhoneNumber, parse_phone
from compliance.rulebook import RuleBook
from compliance.rules import FederalRule, JurisdictionalRule
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind, consent_channel_for
from compliance.zones import CandidateZones, candidate_zones, number_zones

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CombinedListing:
    """Every copy of one registry the caller supplied, read conservatively."""

    listed: bool
    copy_as_of: date
    """The freshest copy's date."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where the called party may be: a function of the number's zone prefix and area code and of the address."""

    states: tuple[str, ...]
    """Address state(s) and the area code's state: every state whose rules apply."""
    zones: CandidateZones | None
    zones_error: str | None
    key: tuple[Hashable, ...]
    """The memo key this place was computed for: answers that depend on nothing else are memoised under it."""
    content: tuple[Hashable, ...]
    """What the rules read of the place (its states, and its zones with their sources or why they are unknown):
    places of different area codes or addresses with equal content lead to equal decisions."""


@dataclass(frozen=True, slots=True)
class GateContext:
    facts: GateFacts
    rulebook: RuleBook
    at: datetime
    """The moment of the call, in UTC."""
    phone: PhoneNumber | None
    phone_error: str | None
    place: Place
    consent_channel: ConsentChannel
    consent: EffectiveConsent
    needed_consent: ConsentKind | None
    """What this call needs under 47 CFR 64.1200(a); None for live calls, which need none."""
    ebr: EbrStatus

    @property
    def states(self) -> tuple[str, ...]:
        """Address state(s) and the area code's state: every state whose rules apply."""
        return self.place.states

    @property
    def zones(self) -> CandidateZones | None:
        return self.place.zones

    @property
    def is_marketing(self) -> bool:
        return self.facts.purpose is Purpose.MARKETING

    @property
    def is_live_call(self) -> bool:
        return self.facts.channel is Channel.VOICE and self.facts.voice is VoiceKind.LIVE

    def covers(self, rule: JurisdictionalRule) -> bool:
        """Whether ``rule``'s scope governs this call or text."""
        facts = self.facts
        return rule.scope.covers(channel=facts.channel, voice=facts.voice, purpose=facts.purpose, on=self.at.date())

    def out_of_scope(self, rule: JurisdictionalRule) -> Check:
        """The check of a rule whose scope does not cover this call or text."""
        meta = rule.meta
        return self.rulebook.memo.get(("out_of_scope", meta.rule_id), _out_of_scope, rule)

    def per_place(self, name: str, compute: Callable[[], T]) -> T:
        """``compute()``, memoised per place: it must depend on nothing but the place (and the rule book)."""
        return self.rulebook.memo.get((name, self.place.key), compute)

    def fixed(self, rule: FederalRule, verdict: Verdict, detail: str) -> Check:
        """A federal rule's check with a constant detail (shared: ``RuleMeta.check`` hands out one per detail)."""
        return self.rulebook.meta(rule).check(verdict, detail)

    def require_phone(self) -> PhoneNumber:
        if self.phone is None:
            raise MissingFactError(f"no valid phone number ({self.phone_error})")
        return self.phone

    def require_zones(self) -> CandidateZones:
        zones = self.place.zones
        if zones is None:
            raise MissingFactError(f"time zones unknown ({self.place.zones_error})")
        if not zones.zones:
            raise MissingFactError("no time zone known for the called party: no address and a non-geographic number")
        return zones

    def listing(self, registry: str) -> CombinedListing | None:
        copies = [r for r in self.facts.registry_listings if r.registry == registry]
        if len(copies) == 1:  # the usual case, one value per copy (``_combined`` reads the copy alone)
            return self.rulebook.memo.get(("listing", copies[0]), _combined, copies)
        return _combined(copies) if copies else None

    def dnc_requested_at(self) -> datetime | None:
        entry = self.facts.internal_dnc
        return entry.listed_at if entry is not None else None


def _combined(copies: list[RegistryListing]) -> CombinedListing:
    return CombinedListing(listed=any(c.listed for c in copies), copy_as_of=max(c.copy_as_of for c in copies))


def _out_of_scope(rule: JurisdictionalRule) -> Check:
    return rule.meta.check(Verdict.SKIP, f"applies to {rule.scope.describe()}")


def states_of_address(address: Address, geography: Geography) -> tuple[str, ...]:
    """The address's state and, when it differs, the state its ZIP code belongs to (both apply)."""
    states = []
    if address.state:
        states.append(address.state.strip().upper())
    postal_state = geography.state_for_postal_code(address.postal_code)
    if postal_state is not None:
        states.append(postal_state)
    return tuple(dict.fromkeys(states))


def applicable_states(phone: PhoneNumber | None, address: Address, geography: Geography) -> tuple[str, ...]:
    """Every state whose rules apply: the address's state(s) and the state of the number's area code."""
    area_state = geography.state_for_area_code(phone.area_code) if phone is not None else None
    return tuple(dict.fromkeys([*states_of_address(address, geography), *([area_state] if area_state else [])]))


def build_context(facts: GateFacts, rulebook: RuleBook) -> GateContext:
    """Derive the shared facts. Never raises for bad phone or address data: rules that need them block."""
    phone: PhoneNumber | None = None
    phone_error: str | None = None
    try:
        phone = parse_phone(facts.phone)
    except InvalidPhoneNumberError as exc:
        phone_error = str(exc)
    consent_channel = consent_channel_for(facts.channel, facts.voice)
    consent = consent_in_force(facts)
    needed: ConsentKind | None
    if consent_channel is ConsentChannel.LIVE_CALL:
        needed = None
    elif facts.purpose is Purpose.MARKETING:
        needed = ConsentKind.WRITTEN
    else:
        needed = ConsentKind.EXPRESS
    dnc_at = facts.internal_dnc.listed_at if facts.internal_dnc is not None else None
    return GateContext(
        facts=facts,
        rulebook=rulebook,
        at=facts.at.astimezone(UTC),
        phone=phone,
        phone_error=phone_error,
        place=place_of(phone, facts.address, rulebook),
        consent_channel=consent_channel,
        consent=consent,
        needed_consent=needed,
        ebr=ebr_status(facts.relationship, at=facts.at, dnc_requested_at=dnc_at),
    )


def consent_in_force(facts: GateFacts) -> EffectiveConsent:
    """The consent the call or text has: for its channel and purpose, at its moment (all the rules read of the
    consent ledger)."""
    channel = consent_channel_for(facts.channel, facts.voice)
    return effective_consent(facts.consent_events, channel=channel, purpose=facts.purpose, at=facts.at)


def place_of(phone: PhoneNumber | None, address: Address, rulebook: RuleBook) -> Place:
    """The states and candidate zones of a call, memoised in the rule book: of the number they read only its area
    code, whether it is geographic and, if so, its ``number_zones`` (itself memoised per number prefix)."""
    if phone is None:
        key: tuple[Hashable, ...] = ("place", None, None, None, address.state, address.postal_code)
    else:
        prefix_zones = number_zones(phone.e164) if phone.geographic else None
        key = ("place", phone.area_code, phone.geographic, prefix_zones, address.state, address.postal_code)
    return rulebook.memo.get(key, _place, phone, address, rulebook.geography, key)


def _place(phone: PhoneNumber | None, address: Address, geography: Geography, key: tuple[Hashable, ...]) -> Place:
    address_states = states_of_address(address, geography)
    states = applicable_states(phone, address, geography)
    if phone is None:
        return _placed(states, None, "no valid phone number", key)
    try:
        zones = candidate_zones(
            phone, address_states=address_states, postal_code=address.postal_code, geography=geography
        )
    except KeyError as exc:
        return _placed(states, None, f"unknown address state {exc.args[0]!r}", key)
    return _placed(states, zones, None, key)


def _placed(
    states: tuple[str, ...], zones: CandidateZones | None, error: str | None, key: tuple[Hashable, ...]
) -> Place:
    sources = tuple((s.zone, s.source) for s in zones.sources) if zones is not None else None
    return Place(states=states, zones=zones, zones_error=error, key=key, content=(states, sources, error))
