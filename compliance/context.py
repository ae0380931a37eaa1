"""What the gate derives from the facts once, before the rules read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from compliance.consent import ConsentKind, EffectiveConsent, effective_consent
from compliance.ebr import EbrStatus, ebr_status
from compliance.errors import InvalidPhoneNumberError, MissingFactError
from compliance.facts import Address, GateFacts, RegistryListing
from compliance.geography import Geography
from compliance.phones import PhoneNumber, parse_phone
from compliance.rulebook import RuleBook
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind, consent_channel_for
from compliance.zones import CandidateZones, candidate_zones


@dataclass(frozen=True, slots=True)
class CombinedListing:
    """Every copy of one registry the caller supplied, read conservatively."""

    listed: bool
    copy_as_of: date
    """The freshest copy's date."""
    registered_on: date | None
    """The latest known registration date (consent must postdate every one)."""


@dataclass(frozen=True, slots=True)
class GateContext:
    facts: GateFacts
    rulebook: RuleBook
    phone: PhoneNumber | None
    phone_error: str | None
    states: tuple[str, ...]
    """Address state(s) and the area code's state: every state whose rules apply."""
    consent_channel: ConsentChannel
    consent: EffectiveConsent
    needed_consent: ConsentKind | None
    """What this call needs under 47 CFR 64.1200(a); None for live calls, which need none."""
    ebr: EbrStatus
    zones: CandidateZones | None
    zones_error: str | None

    @property
    def at(self) -> datetime:
        """The moment of the call, in UTC."""
        return self.facts.at.astimezone(UTC)

    @property
    def is_marketing(self) -> bool:
        return self.facts.purpose is Purpose.MARKETING

    @property
    def is_live_call(self) -> bool:
        return self.facts.channel is Channel.VOICE and self.facts.voice is VoiceKind.LIVE

    def require_phone(self) -> PhoneNumber:
        if self.phone is None:
            raise MissingFactError(f"no valid phone number ({self.phone_error})")
        return self.phone

    def require_zones(self) -> CandidateZones:
        if self.zones is None:
            raise MissingFactError(f"time zones unknown ({self.zones_error})")
        if not self.zones.zones:
            raise MissingFactError("no time zone known for the called party: no address and a non-geographic number")
        return self.zones

    def listing(self, registry: str) -> CombinedListing | None:
        copies: list[RegistryListing] = [r for r in self.facts.registry_listings if r.registry == registry]
        if not copies:
            return None
        registrations = [c.registered_on for c in copies if c.registered_on is not None]
        return CombinedListing(
            listed=any(c.listed for c in copies),
            copy_as_of=max(c.copy_as_of for c in copies),
            registered_on=max(registrations) if registrations else None,
        )

    def dnc_requested_at(self) -> datetime | None:
        entry = self.facts.internal_dnc
        return entry.listed_at if entry is not None else None


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
    geography = rulebook.geography
    address_states = states_of_address(facts.address, geography)
    states = applicable_states(phone, facts.address, geography)
    zones: CandidateZones | None = None
    zones_error: str | None = None
    if phone is not None:
        try:
            zones = candidate_zones(
                phone,
                address_states=address_states,
                postal_code=facts.address.postal_code,
                geography=geography,
            )
        except KeyError as exc:
            zones_error = f"unknown address state {exc.args[0]!r}"
    else:
        zones_error = "no valid phone number"
    consent_channel = consent_channel_for(facts.channel, facts.voice)
    consent = effective_consent(facts.consent_events, channel=consent_channel, purpose=facts.purpose, at=facts.at)
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
        phone=phone,
        phone_error=phone_error,
        states=states,
        consent_channel=consent_channel,
        consent=consent,
        needed_consent=needed,
        ebr=ebr_status(facts.relationship, at=facts.at, dnc_requested_at=dnc_at),
        zones=zones,
        zones_error=zones_error,
    )
