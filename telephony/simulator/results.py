"""What a simulated call measured. Times are seconds on the event loop's monotonic clock until reported,
then seconds since the stream's ``start`` message."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from telephony.simulator.webhook import TwimlAnswer

EndedBy = Literal["caller", "agent", "timeout", "no_stream"]


@dataclass(frozen=True, slots=True)
class TurnTiming:
    text: str
    speech_end: float
    """When the caller stopped speaking, since the stream started."""
    reply_latency: float | None
    """From the end of the caller's speech to the agent's next audio; None if none came before the caller
    spoke again or the call ended."""
    longest_silence: float | None = None
    """The longest silence on the line from the end of the caller's speech to the last agent audio before they
    spoke again (the wait for the reply, and any gap within it); None if no audio came."""


@dataclass(frozen=True, slots=True)
class BargeIn:
    text: str
    onset: float
    """When the caller started speaking over the agent's audio, since the stream started."""
    reaction: float | None
    """From that onset to the server's ``clear``; None if it never cleared."""


@dataclass(frozen=True, slots=True)
class CallResult:
    call_sid: str
    stream_sid: str | None
    answer: TwimlAnswer
    ended_by: EndedBy
    duration: float
    greeting_latency: float | None
    """From ``start`` to the agent's first audio."""
    turns: tuple[TurnTiming, ...] = ()
    barge_ins: tuple[BargeIn, ...] = ()
    frames_sent: int = 0
    agent_audio_seconds: float = 0.0
    """Agent audio received (played or cleared)."""
    marks_received: int = 0
    marks_echoed: int = 0
    clears: int = 0
    protocol_errors: int = 0
    """Malformed, binary or foreign-stream messages from the server (logged and skipped)."""
    max_send_lag: float = 0.0
    """Worst delay of a caller frame behind its real-time slot (the simulator's own load)."""
    recording: Path | None = None


@dataclass(slots=True)
class _SilenceWindow:
    start: float
    """The end of the caller's speech."""
    longest: float | None = None
    turn: int | None = None
    """Index of the turn's timing, once the agent answered."""


class TimingCollector:
    """Turns stream events into the latencies above. Pure: every event carries its time."""

    def __init__(self, stream_start: float) -> None:
        self._t0 = stream_start
        self.first_agent_audio: float | None = None
        self.last_agent_audio: float | None = None
        self._turns: list[TurnTiming] = []
        self._barge_ins: list[BargeIn] = []
        self._open_turn: tuple[str, float] | None = None
        self._silence: _SilenceWindow | None = None
        self._open_barge_in: tuple[str, float] | None = None

    def agent_audio(self, now: float, *, silent_since: float | None = None) -> None:
        """Agent audio arrived at ``now``; ``silent_since``: when the line fell silent before it (None: it
        was still playing)."""
        if self.first_agent_audio is None:
            self.first_agent_audio = now
        self.last_agent_audio = now
        window = self._silence
        if window is not None and silent_since is not None:
            window.longest = max(window.longest or 0.0, now - max(silent_since, window.start))
        if self._open_turn is not None:
            text, end = self._open_turn
            self._turns.append(TurnTiming(text, end - self._t0, now - end))
            self._open_turn = None
            if window is not None:
                window.turn = len(self._turns) - 1

    def speech_onset(self, now: float, *, text: str, over_agent_audio: bool) -> None:
        self._close_silence()
        self._close_turn()
        self._close_barge_in()
        if over_agent_audio:
            self._open_barge_in = (text, now)

    def speech_end(self, now: float, *, text: str) -> None:
        self._open_turn = (text, now)
        self._silence = _SilenceWindow(start=now)

    def clear(self, now: float) -> None:
        if self._open_barge_in is not None:
            text, onset = self._open_barge_in
            self._barge_ins.append(BargeIn(text, onset - self._t0, now - onset))
            self._open_barge_in = None

    @property
    def greeting_latency(self) -> float | None:
        return None if self.first_agent_audio is None else self.first_agent_audio - self._t0

    def replied_since(self, moment: float) -> bool:
        return self.last_agent_audio is not None and self.last_agent_audio >= moment

    def finish(self) -> tuple[tuple[TurnTiming, ...], tuple[BargeIn, ...]]:
        self._close_silence()
        self._close_turn()
        self._close_barge_in()
        return tuple(self._turns), tuple(self._barge_ins)

    def _close_turn(self) -> None:
        if self._open_turn is not None:
            text, end = self._open_turn
            self._turns.append(TurnTiming(text, end - self._t0, None))
            self._open_turn = None

    def _close_silence(self) -> None:
        window, self._silence = self._silence, None
        if window is not None and window.turn is not None:
            self._turns[window.turn] = replace(self._turns[window.turn], longest_silence=window.longest)

    def _close_barge_in(self) -> None:
        if self._open_barge_in is not None:
            text, onset = self._open_barge_in
            self._barge_ins.append(BargeIn(text, onset - self._t0, None))
            self._open_barge_in = None
