"""The consent ledger: append-only grant and revocation events, and their meaning for the gate.

A grant records its kind (prior express or prior express written consent), its scope (channels and purposes) and
its evidence (form URL, text shown, IP address, recording or signed-agreement reference). A revocation is a new
event saying when and how; nothing is updated or deleted, so the full history stays available.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from compliance.consent import ConsentAction, ConsentEvent, ConsentKind
from compliance.models import ConsentRecord
from compliance.phones import to_e164
from compliance.vocabulary import ConsentChannel, Purpose


class GrantSource(enum.StrEnum):
    """Where a grant of consent was given."""

    WEB_FORM = "web_form"
    CALL = "call"
    SMS = "sms"
    SIGNED_AGREEMENT = "signed_agreement"
    AGENT = "agent"
    API = "api"


class RevocationMethod(enum.StrEnum):
    """How a revocation was made (47 CFR 64.1200(a)(10): any reasonable method)."""

    CALL = "call"
    SMS_KEYWORD = "sms_keyword"
    FREE_TEXT = "free_text"
    WEB = "web"
    AGENT = "agent"
    API = "api"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What shows that consent was given."""

    form_url: str | None = None
    text_shown: str | None = None
    ip_address: str | None = None
    recording_ref: str | None = None
    agreement_ref: str | None = None


def record_grant(
    session: Session,
    *,
    phone: str,
    kind: ConsentKind,
    channels: Iterable[ConsentChannel],
    purposes: Iterable[Purpose],
    source: GrantSource,
    granted_at: datetime,
    evidence: Evidence,
    recorded_by: str,
    detail: str = "",
) -> ConsentRecord:
    """Append a grant. Raises InvalidPhoneNumberError, or ValueError for an empty scope."""
    record = ConsentRecord(
        phone=to_e164(phone),
        action=ConsentAction.GRANT.value,
        kind=kind.value,
        channels=_values(channels, "channel"),
        purposes=_values(purposes, "purpose"),
        method=source.value,
        occurred_at=granted_at,
        form_url=evidence.form_url,
        text_shown=evidence.text_shown,
        ip_address=evidence.ip_address,
        recording_ref=evidence.recording_ref,
        agreement_ref=evidence.agreement_ref,
        detail=detail,
        recorded_by=recorded_by[:80],
    )
    session.add(record)
    session.flush()
    return record


def record_revocation(
    session: Session,
    *,
    phone: str,
    method: RevocationMethod,
    revoked_at: datetime,
    recorded_by: str,
    channels: Iterable[ConsentChannel] = tuple(ConsentChannel),
    purposes: Iterable[Purpose] = tuple(Purpose),
    detail: str = "",
) -> ConsentRecord:
    """Append a revocation (every channel and purpose unless narrowed). Raises InvalidPhoneNumberError."""
    record = ConsentRecord(
        phone=to_e164(phone),
        action=ConsentAction.REVOKE.value,
        kind=None,
        channels=_values(channels, "channel"),
        purposes=_values(purposes, "purpose"),
        method=method.value,
        occurred_at=revoked_at,
        detail=detail,
        recorded_by=recorded_by[:80],
    )
    session.add(record)
    session.flush()
    return record


def ledger_event(
    *,
    event_id: str,
    action: str,
    kind: str | None,
    channels: Iterable[str],
    purposes: Iterable[str],
    occurred_at: datetime,
) -> ConsentEvent:
    """A ledger row as the pure core reads it."""
    return ConsentEvent(
        at=occurred_at,
        action=ConsentAction(action),
        kind=ConsentKind(kind) if kind else None,
        channels=_channel_set(tuple(channels)),
        purposes=_purpose_set(tuple(purposes)),
        event_id=event_id,
    )


# Ledger rows repeat a handful of scopes: one (immutable) set per scope serves them all.
@lru_cache(maxsize=256)
def _channel_set(values: tuple[str, ...]) -> frozenset[ConsentChannel]:
    return frozenset(ConsentChannel(c) for c in values)


@lru_cache(maxsize=256)
def _purpose_set(values: tuple[str, ...]) -> frozenset[Purpose]:
    return frozenset(Purpose(p) for p in values)


def _values(items: Iterable[enum.StrEnum], what: str) -> list[str]:
    values = sorted({item.value for item in items})
    if not values:
        raise ValueError(f"a consent event must cover at least one {what}")
    return values
