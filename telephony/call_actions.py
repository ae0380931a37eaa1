"""What the agent may do to a live call, done over Twilio REST and the database (``agent.CallActions``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool

from compliance.internal_dnc import record_do_not_call
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.leads.events import APPOINTMENT_BOOKED, appointment_payload
from seiketsu.leads.models import Appointment
from seiketsu.phones import mask_phone
from seiketsu.tenancy.scoping import tenant_session
from telephony.twilio_rest import TwilioError, TwilioRestClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallContext:
    """The facts about one live call that its actions need."""

    call_id: uuid.UUID
    organization_id: uuid.UUID
    call_sid: str | None
    lead_id: uuid.UUID | None
    caller: str
    our_number: str
    timezone: str
    transfer_number: str | None
    office_address: str | None


class TwilioCallActions:
    """Transfers and hang-ups go through Twilio REST when an account is configured; in any case the media
    stream is closed afterwards (``close_stream``), which is all the embedded mode's simulator needs."""

    def __init__(
        self,
        *,
        container: Container,
        context: CallContext,
        rest: TwilioRestClient | None,
        close_stream: Callable[[], Awaitable[None]],
    ) -> None:
        self._container = container
        self._context = context
        self._rest = rest
        self._close_stream = close_stream

    async def transfer_to_human(self, *, reason: str) -> bool:
        ctx = self._context
        if not ctx.transfer_number:
            logger.info("call %s: transfer asked (%s) but no transfer number is configured", ctx.call_id, reason)
            return False
        if self._rest is not None and ctx.call_sid:
            try:
                await self._rest.transfer(ctx.call_sid, to_number=ctx.transfer_number, caller_id=ctx.our_number)
            except TwilioError as exc:
                logger.warning("call %s: transfer failed: %s", ctx.call_id, exc)
                return False
        logger.info("call %s transferred to %s (%s)", ctx.call_id, mask_phone(ctx.transfer_number), reason)
        await self._close_stream()
        return True

    async def end_call(self) -> None:
        ctx = self._context
        if self._rest is not None and ctx.call_sid:
            try:
                await self._rest.hang_up(ctx.call_sid)
            except TwilioError as exc:
                # The stream closes below either way; Twilio ends a call whose <Connect> has nothing left.
                logger.warning("call %s: hang-up over REST failed: %s", ctx.call_id, exc)
        await self._close_stream()

    async def book_appointment(self, *, starts_at: datetime, notes: str) -> str:
        ctx = self._context
        lead_id = ctx.lead_id
        if lead_id is None:
            raise ValueError("an appointment needs a known caller")
        zone = ZoneInfo(ctx.timezone)
        local = starts_at.astimezone(zone) if starts_at.tzinfo else starts_at.replace(tzinfo=zone)
        if local <= utcnow():
            raise ValueError("the appointment time has passed")

        def insert() -> None:
            with tenant_session(self._container.sessions, ctx.organization_id) as session:
                appointment = Appointment(
                    lead_id=lead_id, call_id=ctx.call_id, starts_at=local, timezone=ctx.timezone, notes=notes
                )
                session.add(appointment)
                session.flush()
                self._container.events.publish(session, APPOINTMENT_BOOKED, appointment_payload(appointment))
                session.commit()

        await run_in_threadpool(insert)
        when = f"{local:%A, %B} {local.day} at {local:%I:%M %p}".replace(" 0", " ")
        return f"{when} at {ctx.office_address}" if ctx.office_address else when

    async def record_opt_out(self, *, how: str) -> None:
        ctx = self._context
        if not ctx.caller.startswith("+"):
            logger.warning("call %s: opt-out from a caller with no number (%s) cannot be recorded", ctx.call_id, how)
            return

        def insert() -> None:
            with tenant_session(self._container.sessions, ctx.organization_id) as session:
                record_do_not_call(session, phone=ctx.caller, source="call", requested_at=utcnow(), note=how)
                session.commit()

        await run_in_threadpool(insert)
        logger.info("call %s: %s put on the internal Do-Not-Call list", ctx.call_id, mask_phone(ctx.caller))
