"""Acting on the call through the host: the dialog's tool calls, transfers, hang-ups, bookings, opt-outs.

Anything that ends or hands over the call waits until the caller has heard what was said before it (the
mark echoes), so the last sentence is never cut off. An opt-out is recorded before anything else is said.
A failing host action is logged and the caller told; it never ends the session by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from agent import phrases, tools
from agent.call_log import CallLog
from agent.config import SessionConfig
from agent.conversation import Conversation
from agent.interfaces import CallActions, ToolCall
from agent.records import AppointmentRecord

logger = logging.getLogger(__name__)


class Say(Protocol):
    def __call__(self, text: str, *, interruptible: bool = True) -> Awaitable[None]: ...


@dataclass(slots=True)
class CallState:
    """Where the call stands, shared by the session and its control."""

    ending: bool = False
    """The agent is wrapping up (hanging up, transferring, opting out): caller speech is no longer a turn."""
    closed: bool = False
    """The host stopped the session."""
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the agent ended or handed over the call, or the host stopped it."""


class CallControl:
    """Carries out what the dialog or the caller's keys ask for."""

    def __init__(
        self,
        *,
        config: SessionConfig,
        actions: CallActions,
        log: CallLog,
        conversation: Conversation,
        state: CallState,
        say: Say,
        wait_played: Callable[[], Awaitable[None]],
    ) -> None:
        self._config = config
        self._actions = actions
        self._log = log
        self._conversation = conversation
        self._state = state
        self._say = say
        self._wait_played = wait_played
        self._zone = ZoneInfo(config.timezone)

    async def run_tools(self, calls: list[ToolCall]) -> bool:
        """Carry out the dialog's tool calls; True when the dialog should speak again about the results."""
        follow_up = False
        for call in calls:
            if call.name == tools.TRANSFER_TO_HUMAN:
                if await self.transfer(str(call.arguments.get("reason") or "requested by the dialog")):
                    self._conversation.tool_result(call, "transferred")
                    return False
                self._conversation.tool_result(call, "error: no human agent is available right now")
                follow_up = True
            elif call.name == tools.END_CALL:
                self._log.end_reason = str(call.arguments.get("reason") or "completed")
                self._conversation.tool_result(call, "ending the call")
                await self.hang_up()
                return False
            elif call.name == tools.RECORD_OPT_OUT:
                self._conversation.tool_result(call, "recorded")
                await self.opt_out(how=str(call.arguments.get("how") or "asked by the caller"), confirm=False)
                return False
            elif call.name == tools.TAKE_MESSAGE:
                self._log.message = str(call.arguments.get("message") or "").strip() or "(call back)"
                self._conversation.tool_result(call, "message recorded; an agent will call back")
                follow_up = True
            elif call.name == tools.BOOK_APPOINTMENT:
                self._conversation.tool_result(call, await self._book(call.arguments))
                follow_up = True
            else:
                self._conversation.tool_result(call, f"error: unknown tool {call.name}")
                follow_up = True
        return follow_up

    async def transfer_on_request(self, reason: str) -> None:
        """The caller asked for a person outside the dialog (a key press): announce, transfer, or explain.

        With no human number configured nothing is promised: the caller is offered a callback instead."""
        if not self._config.transfer_available:
            await self._say(phrases.TAKE_MESSAGE_OFFER)
            return
        await self._say(phrases.TRANSFERRING)
        if not await self.transfer(reason):
            await self._say(phrases.TRANSFER_UNAVAILABLE)

    async def transfer(self, reason: str) -> bool:
        await self._wait_played()
        try:
            async with asyncio.timeout(self._config.timeouts.action):
                ok = await self._actions.transfer_to_human(reason=reason)
        except Exception as exc:  # the host could not transfer; the caller stays with the agent
            logger.warning("transfer failed", extra={"call_id": self._config.call_id, "error": repr(exc)})
            ok = False
        if ok:
            self._log.transferred = True
            self._finish()
        return ok

    async def opt_out(self, *, how: str, confirm: bool) -> None:
        """Record the caller's Do-Not-Call request at once, confirm it, and hang up."""
        if self._log.opted_out:
            return
        self._log.opted_out = True
        self._state.ending = True
        try:
            async with asyncio.timeout(self._config.timeouts.action):
                await self._actions.record_opt_out(how=how)
        except Exception:  # must not pass silently: the log is the record of last resort
            logger.exception("opt-out could not be recorded", extra={"call_id": self._config.call_id, "how": how})
        if confirm:
            await self._say(phrases.OPT_OUT_CONFIRMED, interruptible=False)
        await self.hang_up()

    async def hang_up(self) -> None:
        self._state.ending = True
        await self._wait_played()
        try:
            async with asyncio.timeout(self._config.timeouts.action):
                await self._actions.end_call()
        except Exception as exc:  # the caller may already be gone
            logger.warning("hang-up failed", extra={"call_id": self._config.call_id, "error": repr(exc)})
        self._finish()

    async def no_voice_left(self) -> None:
        """Without a voice the agent cannot help: hand the caller to a person, or end the call."""
        if self._state.ending:
            return
        self._state.ending = True
        self._log.voice_failed = True
        logger.error("no voice left; handing the call over", extra={"call_id": self._config.call_id})
        if not await self.transfer("the agent's voice failed"):
            await self.hang_up()

    async def _book(self, arguments: dict[str, Any]) -> str:
        try:
            starts_at = datetime.fromisoformat(str(arguments.get("starts_at")))
        except ValueError:
            return "error: starts_at is not an ISO 8601 date-time"
        if starts_at.tzinfo is None:
            starts_at = starts_at.replace(tzinfo=self._zone)
        notes = str(arguments.get("notes") or "")
        try:
            async with asyncio.timeout(self._config.timeouts.action):
                confirmation = await self._actions.book_appointment(starts_at=starts_at, notes=notes)
        except Exception as exc:  # the host's booking failed; the dialog offers another time
            logger.warning("booking failed", extra={"call_id": self._config.call_id, "error": repr(exc)})
            return "error: the appointment could not be booked"
        self._log.appointment = AppointmentRecord(starts_at=starts_at, confirmation=confirmation)
        return confirmation

    def _finish(self) -> None:
        self._state.ending = True
        self._state.finished.set()
