"""The consent ledger's meaning: which consent is in force for a channel and purpose at a moment.

The ledger is an append-only list of grant and revoke events. Its meaning does not depend on the order the events
are handed over: they are applied in time order, and at equal times every grant is applied before any revocation,
so a revocation made at the same instant as a grant wins.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from compliance.vocabulary import ConsentChannel, Purpose

ALL_CONSENT_CHANNELS = frozenset(ConsentChannel)
ALL_PURPOSES = frozenset(Purpose)


class ConsentKind(StrEnum):
    """Prior express consent (PEC) and prior express written consent (PEWC, 47 CFR 64.1200(f)(9))."""

    EXPRESS = "prior_express"
    WRITTEN = "prior_express_written"


class ConsentAction(StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One ledger entry. A grant names its kind; a revocation covers all channels and purposes by default."""

    at: datetime
    action: ConsentAction
    kind: ConsentKind | None = None
    channels: frozenset[ConsentChannel] = ALL_CONSENT_CHANNELS
    purposes: frozenset[Purpose] = ALL_PURPOSES
    event_id: str = ""
    """The ledger row's stable id; only used to order simultaneous events deterministically."""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("consent event time must be timezone-aware")
        if self.action is ConsentAction.GRANT and self.kind is None:
            raise ValueError("a consent grant needs a kind")
        if not self.channels or not self.purposes:
            raise ValueError("a consent event must cover at least one channel and one purpose")

    def covers(self, channel: ConsentChannel, purpose: Purpose) -> bool:
        return channel in self.channels and purpose in self.purposes

    def order_key(self) -> tuple[datetime, int, str, str, str]:
        """Time first; grants before revocations at the same instant; then a stable, content-based tiebreak."""
        rank = 0 if self.action is ConsentAction.GRANT else 1
        kind = self.kind.value if self.kind is not None else ""
        return (self.at, rank, kind, self.event_id, ",".join(sorted(self.channels) + sorted(self.purposes)))


class ConsentStatus(StrEnum):
    NONE = "none"
    GRANTED = "granted"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class EffectiveConsent:
    """The consent in force for one channel and purpose, to the day (UTC).

    The ledger's events are applied to the instant; what comes out is dated, because every rule compares consent
    with dates (registrations, reassignment queries) and an audit names the day. So consents of one day are one
    value, and the gate's decisions about them are one decision (``gate.decision_key`` reads this value)."""

    status: ConsentStatus
    express_on: date | None = None
    """Day of the latest prior-express grant since the last revocation."""
    written_on: date | None = None
    """Day of the latest prior-express-written grant since the last revocation."""
    revoked_on: date | None = None
    """Day of the latest revocation, whether or not consent was granted again since."""

    def satisfies(self, needed: ConsentKind) -> bool:
        return self.granted_on(needed) is not None

    def granted_on(self, needed: ConsentKind) -> date | None:
        """The day of the latest grant good enough for ``needed`` (written consent also satisfies express)."""
        if needed is ConsentKind.WRITTEN:
            return self.written_on
        grants = [d for d in (self.express_on, self.written_on) if d is not None]
        return max(grants) if grants else None

    def describe(self) -> str:
        parts = []
        if self.written_on is not None:
            parts.append(f"written consent granted {self.written_on.isoformat()}")
        if self.express_on is not None:
            parts.append(f"express consent granted {self.express_on.isoformat()}")
        if self.revoked_on is not None:
            parts.append(f"last revoked {self.revoked_on.isoformat()}")
        return "; ".join(parts) or "no consent on record"


NO_CONSENT = EffectiveConsent(status=ConsentStatus.NONE)


def effective_consent(
    events: Collection[ConsentEvent], *, channel: ConsentChannel, purpose: Purpose, at: datetime
) -> EffectiveConsent:
    """The consent in force for ``channel`` and ``purpose`` at ``at``; events after ``at`` are ignored."""
    if not events:
        return NO_CONSENT
    relevant = [e for e in events if e.at <= at and e.covers(channel, purpose)]
    if len(relevant) > 1:  # most leads have one grant: nothing to order
        relevant.sort(key=ConsentEvent.order_key)
    express_at: datetime | None = None
    written_at: datetime | None = None
    revoked_at: datetime | None = None
    for event in relevant:
        if event.action is ConsentAction.REVOKE:
            express_at = written_at = None
            revoked_at = event.at
        elif event.kind is ConsentKind.WRITTEN:
            written_at = event.at
        else:
            express_at = event.at
    if express_at is not None or written_at is not None:
        status = ConsentStatus.GRANTED
    elif revoked_at is not None:
        status = ConsentStatus.REVOKED
    else:
        status = ConsentStatus.NONE
    return EffectiveConsent(
        status=status, express_on=_day(express_at), written_on=_day(written_at), revoked_on=_day(revoked_at)
    )


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(UTC).date() if moment is not None else None
