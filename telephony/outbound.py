"""Placing outbound calls: a seat under the organization's concurrency limit, then Twilio, on a gate permit.

A call is placed in two steps. ``reserve_call`` adds the ``Call`` (status queued, with the gate's decision) while
holding the organization's admission lock, so inbound and outbound calls together never exceed
``Organization.max_concurrent_calls``; the caller commits. ``OutboundDialer.place`` then verifies the permit and
asks Twilio to dial: it accepts nothing but a ``DialPermit`` the gate issued for this number. Twilio is told our
call id in every callback URL (``?callId=``), so its callbacks find the call even before its sid is stored.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.decision import Decision
from compliance.permits import DialPermit, PermitMismatch
from compliance.vocabulary import Channel
from seiketsu.errors import ServiceUnavailable
from seiketsu.phones import mask_phone
from seiketsu.settings import Settings
from seiketsu.tenancy.models import NumberPurpose, PhoneNumber
from telephony.calls import active_calls
from telephony.models import Call, CallDirection, CallOutcome, CallStatus
from telephony.twilio_rest import TwilioError

logger = logging.getLogger(__name__)

OUTBOUND_TWIML_PATH = "/twilio/voice/outbound"
STATUS_PATH = "/twilio/status"
AMD_PATH = "/twilio/amd"


def require_twilio_account(settings: Settings) -> None:
    """Outbound calls go out through Twilio's REST API: without an account, refuse before anything changes."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise ServiceUnavailable("outbound calls need a Twilio account (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)")


class OutboundError(Exception):
    """An outbound call could not be placed."""


class NoOutboundNumber(OutboundError):
    """The organization has no number to call from (purpose outbound or both)."""


class AtCapacity(OutboundError):
    """The organization's calls, inbound and outbound together, are at its concurrent-call limit."""

    def __init__(self, *, active: int, limit: int) -> None:
        super().__init__(f"{active} calls in progress; the organization's limit is {limit}")
        self.active = active
        self.limit = limit


class PermitVerifier(Protocol):
    """The gate's check of a permit (``compliance.service.ComplianceGate``)."""

    def verify_permit(self, permit: DialPermit, *, phone: str, channel: Channel) -> DialPermit: ...


class CallPlacer(Protocol):
    """Twilio's Calls resource (``telephony.twilio_rest.TwilioRestClient``)."""

    async def create_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str | None = None,
        machine_detection: str | None = "DetectMessageEnd",
        async_amd: bool = True,
        async_amd_status_callback: str | None = None,
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class Placement:
    """A reserved call, ready to be placed."""

    call_id: uuid.UUID
    organization_id: uuid.UUID
    to_number: str
    from_number: str
    gate_decision_id: str


@dataclass(frozen=True, slots=True)
class CallbackUrls:
    """Where Twilio fetches a placed call's TwiML and reports its status and answering-machine result."""

    public_base_url: str

    def _url(self, path: str, call_id: uuid.UUID) -> str:
        return f"{self.public_base_url.rstrip('/')}{path}?{urlencode({'callId': str(call_id)})}"

    def twiml(self, call_id: uuid.UUID) -> str:
        return self._url(OUTBOUND_TWIML_PATH, call_id)

    def status(self, call_id: uuid.UUID) -> str:
        return self._url(STATUS_PATH, call_id)

    def amd(self, call_id: uuid.UUID) -> str:
        return self._url(AMD_PATH, call_id)


def outbound_numbers(session: Session) -> list[str]:
    """The session organization's numbers that may place calls, oldest first."""
    query = (
        sa.select(col(PhoneNumber.e164))
        .where(col(PhoneNumber.purpose).in_([NumberPurpose.OUTBOUND, NumberPurpose.BOTH]))
        .order_by(col(PhoneNumber.created_at), col(PhoneNumber.e164))
    )
    return list(session.scalars(query))


def choose_from_number(numbers: list[str], to_number: str, *, preferred: str | None = None) -> str:
    """``preferred`` when it is one of ``numbers``, else one in the lead's area code, else the first."""
    if not numbers:
        raise NoOutboundNumber("the organization has no outbound phone number")
    if preferred in numbers:
        return preferred
    local = [n for n in numbers if n[:5] == to_number[:5]]
    return (local or numbers)[0]


def reserve_call(
    session: Session,
    *,
    limit: int,
    lead_id: uuid.UUID | None,
    to_number: str,
    from_number: str,
    purpose: str,
    decision_id: uuid.UUID,
    now: datetime,
) -> Call:
    """Add a queued outbound call if the organization has a free seat; the caller holds the admission lock
    (``telephony.calls.lock_call_admission``) and commits. Raises AtCapacity."""
    active = active_calls(session, now=now)
    if active >= limit:
        raise AtCapacity(active=active, limit=limit)
    call = new_outbound_call(
        lead_id=lead_id, to_number=to_number, from_number=from_number, purpose=purpose, decision_id=decision_id, now=now
    )
    session.add(call)
    session.flush()
    return call


def new_outbound_call(
    *,
    lead_id: uuid.UUID | None,
    to_number: str,
    from_number: str,
    purpose: str,
    decision_id: uuid.UUID,
    now: datetime,
) -> Call:
    """A queued outbound call carrying the gate decision that allowed it (not added to any session)."""
    return Call(
        direction=CallDirection.OUTBOUND,
        from_number=from_number,
        to_number=to_number,
        lead_id=lead_id,
        status=CallStatus.QUEUED,
        purpose=purpose,
        gate_decision_id=str(decision_id),
        started_at=now,
    )


class OutboundDialer:
    """Asks Twilio to place reserved calls, each on its own permit."""

    def __init__(self, *, gate: PermitVerifier, twilio: CallPlacer, urls: CallbackUrls) -> None:
        self._gate = gate
        self._twilio = twilio
        self._urls = urls

    async def place(self, permit: DialPermit, placement: Placement) -> str:
        """Dial ``placement`` with ``permit``; returns Twilio's Call SID.

        Raises PermitError when the permit is not the gate's, has expired, or names another number, organization
        or decision; TwilioError when Twilio refuses or cannot be reached.
        """
        self._gate.verify_permit(permit, phone=placement.to_number, channel=Channel.VOICE)
        if permit.organization_id != placement.organization_id or str(permit.decision_id) != placement.gate_decision_id:
            raise PermitMismatch("the permit was issued for another call")
        call_id = placement.call_id
        sid = await self._twilio.create_call(
            to=placement.to_number,
            from_=placement.from_number,
            url=self._urls.twiml(call_id),
            status_callback=self._urls.status(call_id),
            machine_detection="DetectMessageEnd",
            async_amd=True,
            async_amd_status_callback=self._urls.amd(call_id),
        )
        logger.info("call %s to %s placed: %s", call_id, mask_phone(placement.to_number), sid)
        return sid


def record_placed(session: Session, call_id: uuid.UUID, call_sid: str) -> None:
    """Store the sid Twilio gave the call (a callback may have stored it already); the caller commits."""
    session.execute(
        sa.update(Call)
        .where(col(Call.id) == call_id, col(Call.call_sid).is_(None))
        .values(call_sid=call_sid)
        .execution_options(synchronize_session=False)
    )


def record_not_placed(session: Session, call_id: uuid.UUID, error: Exception, *, now: datetime) -> None:
    """The call never left: it ends failed, with Twilio's reason, and publishes nothing. The caller commits."""
    code = getattr(error, "code", None)
    reason = f"not placed: Twilio {code}: {error}" if isinstance(error, TwilioError) else f"not placed: {error}"
    session.execute(
        sa.update(Call)
        .where(col(Call.id) == call_id, col(Call.call_sid).is_(None))
        .values(
            status=CallStatus.FAILED,
            outcome=CallOutcome.FAILED,
            ended_at=now,
            updated_at=now,
            provider_failures=[reason[:300]],
        )
        .execution_options(synchronize_session=False)
    )


def blocked_reason(decision: Decision) -> str:
    """The gate's blocking rules and their details, for a record or an error message."""
    return "; ".join(f"{check.rule}: {check.detail}" for check in decision.blocking) or "blocked"
