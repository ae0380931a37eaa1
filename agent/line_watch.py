"""Keeping the line alive while a provider is late, on the call's own clock.

Each wait on a cloud provider (the recognizer's final text, the dialog's next token, the voice's next audio)
is registered here for the call's current turn. :meth:`LineWatch.tick` runs on every caller frame (a media
stream delivers one every 20 ms, speech or not) and, as the :class:`SilenceBudget` says, asks for a holding
phrase when the reply is late, and expires the waits whose provider has had its share of the budget: the
waiting code sees a ``TimeoutError`` and its fallback takes over. Deadlines are read on the session's clock
when a frame arrives (in the simulator and tests, the call's media clock, so that silences are measured in
the caller's time); each wait also keeps a wall-clock limit for when frames stop coming.

Before the reply is audible, a wait expires a fixed time after the caller stopped (the recognizer earlier
than the dialog and voice, to leave the local recognizer its turn). Once reply audio has gone out, a wait
expires when the line has been silent for ``act_after_s`` since that audio ran out: a stall mid-reply, or a
trickle too slow to keep up with playback. A wait that began after its deadline (the voice asked to say the
fallback dialog's reply, say) still gets ``fallback_lead_s``: the time kept for the fallback's own audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from agent.clock import Clock
from agent.config import SilenceBudget
from agent.playback import PlaybackTracker

Stage = Literal["stt", "dialog", "tts"]


@dataclass(slots=True, eq=False)
class ProviderWait:
    """One wait on a provider."""

    stage: Stage
    started_at: float
    timeout: asyncio.Timeout
    watched: bool
    expired_by_budget: bool = False


@dataclass(slots=True, eq=False)
class Turn:
    """The caller's turn from the moment they stopped until the agent's reply is over."""

    caller_stopped_at: float
    replied: bool = False
    """Agent audio other than the holding phrase has gone out since the caller stopped."""
    held: bool = False
    waits: set[ProviderWait] = field(default_factory=set)


class LineWatch:
    """One call's provider waits, held to its silence budget."""

    def __init__(self, *, budget: SilenceBudget, clock: Clock, tracker: PlaybackTracker) -> None:
        self._budget = budget
        self._clock = clock
        self._tracker = tracker
        self._turn: Turn | None = None
        self._loose: set[ProviderWait] = set()

    @property
    def pending(self) -> bool:
        """A turn is waiting for its reply (cheap: read on every caller frame)."""
        return self._turn is not None

    def turn_started(self, caller_stopped_at: float) -> Turn:
        """The caller stopped talking at ``caller_stopped_at`` (session clock): the silence budget runs."""
        turn = Turn(caller_stopped_at, waits=self._loose)
        self._loose = set()
        if self._turn is not None:  # the previous turn's waits are still this caller's silence
            turn.waits |= self._turn.waits
        self._turn = turn
        return turn

    def caller_speaking(self) -> None:
        """The caller talks again: their own voice fills the line; waits carry over to the next turn."""
        if self._turn is not None:
            self._loose |= self._turn.waits
            self._turn = None

    def audio_sent(self) -> None:
        """Agent audio (not the holding phrase) went to the caller."""
        if self._turn is not None:
            self._turn.replied = True

    def turn_over(self, turn: Turn) -> None:
        """The reply to ``turn`` is done (or abandoned)."""
        if self._turn is turn:
            self._turn = None

    @asynccontextmanager
    async def waiting(self, stage: Stage, *, limit: float, watched: bool = True) -> AsyncIterator[ProviderWait]:
        """Bound a wait on a provider by ``limit`` seconds of wall-clock time and, when ``watched`` (a
        fallback exists), by the silence budget; either raises ``TimeoutError`` out of the block."""
        async with asyncio.timeout(limit) as timeout:
            wait = ProviderWait(stage, self._clock.now(), timeout, watched)
            waits = self._turn.waits if self._turn is not None else self._loose
            waits.add(wait)
            try:
                yield wait
            finally:
                waits.discard(wait)
                if self._turn is not None:
                    self._turn.waits.discard(wait)
                self._loose.discard(wait)

    def now(self) -> float:
        return self._clock.now()

    def tick(self) -> bool:
        """A caller frame went by: expire the waits past their deadline; True when a holding phrase is due."""
        turn = self._turn
        if turn is None:
            return False
        now = self._clock.now()
        budget = self._budget
        since_stop = now - turn.caller_stopped_at
        silent_since = self._silent_since(turn, now)
        for wait in list(turn.waits):
            if not wait.watched or wait.expired_by_budget:
                continue
            if turn.replied:
                if silent_since is None:
                    continue
                due_at = silent_since + budget.act_after_s
            elif wait.stage == "stt":
                due_at = turn.caller_stopped_at + budget.act_after_s
            else:
                due_at = turn.caller_stopped_at + budget.reply_after_s
            # a provider asked after an earlier one was given up gets the lead kept for the fallback
            if now >= max(due_at, wait.started_at + budget.fallback_lead_s):
                wait.expired_by_budget = True
                wait.timeout.reschedule(asyncio.get_running_loop().time())
        if turn.replied or turn.held or since_stop < budget.act_after_s or self._tracker.remaining_s(now) > 0:
            return False
        turn.held = True
        return True

    def _silent_since(self, turn: Turn, now: float) -> float | None:
        """Since when the line has been silent in this turn (None while agent audio plays)."""
        if self._tracker.remaining_s(now) > 0:
            return None
        return max(turn.caller_stopped_at, self._tracker.audio_ends_at)
