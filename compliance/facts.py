"""Everything the gate needs to know about one intended call or text, gathered by the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from compliance.consent import ConsentEvent
from compliance.ebr import BusinessRelationship
from compliance.vocabulary import Channel, Purpose, VoiceKind

NATIONAL_REGISTRY = "national"


def state_registry(state: str) -> str:
    """The registry name of a state's Do-Not-Call list, as used by imports: "state:TX"."""
    return f"state:{state.upper()}"


@dataclass(frozen=True, slots=True)
class Address:
    """The lead's verified address, as far as it is known."""

    state: str | None = None
    """Two-letter USPS code."""
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class InternalDncEntry:
    """The number is on the organization's own Do-Not-Call list."""

    listed_at: datetime


@dataclass(frozen=True, slots=True)
class RegistryListing:
    """What one registry copy says about the number: whether it lists it. Copies carry no registration dates, and
    none is inferred from them (a written consent exempts from a listing whenever either came first)."""

    registry: str
    """NATIONAL_REGISTRY or state_registry("TX")."""
    listed: bool
    copy_as_of: date
    """The date of the registry download this answer comes from."""


class ReassignedStatus(StrEnum):
    NOT_DISCONNECTED = "not_disconnected"
    DISCONNECTED = "disconnected"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class ReassignedNumberResult:
    """The Reassigned Numbers Database's answer to "disconnected since ``queried_since``?"."""

    status: ReassignedStatus
    queried_since: date
    """The consent date the query was made with."""
    disconnected_on: date | None = None


@dataclass(frozen=True, slots=True)
class OptOutConfirmation:
    """This text would confirm an opt-out (47 CFR 64.1200(a)(12))."""

    opted_out_at: datetime
    confirmations_sent: int = 0


@dataclass(frozen=True, slots=True)
class GateFacts:
    """The question put to the gate: may ``channel`` reach ``phone`` for ``purpose`` at ``at``?

    ``recent_attempts`` are the gate's earlier permissions for this number on the same subject; only those less
    than a cap's period before ``at`` are counted.
    """

    phone: str
    channel: Channel
    purpose: Purpose
    at: datetime
    voice: VoiceKind | None = None
    """Required for voice calls; ignored for texts."""
    address: Address = field(default_factory=Address)
    consent_events: tuple[ConsentEvent, ...] = ()
    internal_dnc: InternalDncEntry | None = None
    registry_listings: tuple[RegistryListing, ...] = ()
    relationship: BusinessRelationship = field(default_factory=BusinessRelationship)
    recent_attempts: tuple[datetime, ...] = ()
    reassigned_number: ReassignedNumberResult | None = None
    opt_out_confirmation: OptOutConfirmation | None = None
