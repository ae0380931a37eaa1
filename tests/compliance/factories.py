"""Builders for gate facts: a baseline call that every rule allows, changed one fact at a time by scenarios."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compliance.consent import ConsentAction, ConsentEvent, ConsentKind
from compliance.facts import NATIONAL_REGISTRY, Address, GateFacts, RegistryListing, state_registry
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind

# Tuesday 10 June 2025, 15:00 UTC = 11:00 in New York, 08:00 in Los Angeles.
BASE_AT = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)
CONSENT_AT = datetime(2024, 12, 1, 12, 0, tzinfo=UTC)
STATE_LISTS = ("FL", "TX", "LA", "MS", "AL", "KY", "PA", "GA", "IN")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def grant(
    at: datetime = CONSENT_AT,
    *,
    kind: ConsentKind = ConsentKind.WRITTEN,
    channels: frozenset[ConsentChannel] = frozenset(ConsentChannel),
    purposes: frozenset[Purpose] = frozenset(Purpose),
    event_id: str = "",
) -> ConsentEvent:
    return ConsentEvent(
        at=at, action=ConsentAction.GRANT, kind=kind, channels=channels, purposes=purposes, event_id=event_id
    )


def revoke(
    at: datetime,
    *,
    channels: frozenset[ConsentChannel] = frozenset(ConsentChannel),
    purposes: frozenset[Purpose] = frozenset(Purpose),
    event_id: str = "",
) -> ConsentEvent:
    return ConsentEvent(at=at, action=ConsentAction.REVOKE, channels=channels, purposes=purposes, event_id=event_id)


def fresh_listings(as_of: date | None = None, *, listed: frozenset[str] = frozenset()) -> tuple[RegistryListing, ...]:
    """An answer from the national registry and every state list the rule book knows (not listed by default)."""
    day = as_of or (BASE_AT.date() - timedelta(days=5))
    registries = (NATIONAL_REGISTRY, *(state_registry(s) for s in STATE_LISTS))
    return tuple(RegistryListing(registry=r, listed=r in listed, copy_as_of=day) for r in registries)


def facts(**changes: Any) -> GateFacts:
    """The baseline: an AI-voice marketing call to a New York number at 11:00 local with written consent.

    Registry copies default to five days before the call's time.
    """
    at = changes.get("at", BASE_AT)
    base = GateFacts(
        phone="+12125550134",
        channel=Channel.VOICE,
        voice=VoiceKind.ARTIFICIAL,
        purpose=Purpose.MARKETING,
        at=BASE_AT,
        address=Address(),
        consent_events=(grant(),),
        registry_listings=fresh_listings(at.date() - timedelta(days=5)) if isinstance(at, datetime) else (),
    )
    return dataclasses.replace(base, **changes)
