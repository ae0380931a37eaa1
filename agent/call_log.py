"""The record of one call as it happens, turned into a :class:`CallResult` when it ends.

Caller speech is timed in audio time (the turn detector's clock), agent speech by the session's clock and the
mark echoes; both become offsets from the start of the call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent.audio import PCM_BYTES_PER_MS
from agent.interfaces import Qualification
from agent.playback import SpokenReply
from agent.qualification import is_qualified
from agent.records import AppointmentRecord, CallOutcome, CallResult, TranscriptEntry, TurnLatency


@dataclass(frozen=True, slots=True)
class _CallerLine:
    text: str
    start_ms: int
    end_ms: int


class CallLog:
    """Transcript, latencies, failures and outcome facts of one call."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self.turns: list[TurnLatency] = []
        self.failures: list[str] = []
        self.appointment: AppointmentRecord | None = None
        self.transferred = False
        self.opted_out = False
        self.voice_failed = False
        self.end_reason: str | None = None
        self.message: str | None = None
        self._lines: list[_CallerLine | SpokenReply] = []
        self._audio_origin: float | None = None

    def audio_arrived(self, now: float, nbytes: int) -> None:
        """Caller audio came in; the first piece fixes where audio time 0 sits on the call's clock."""
        if self._audio_origin is None:
            self._audio_origin = now - nbytes / PCM_BYTES_PER_MS / 1000

    def caller_said(self, text: str, *, onset_ms: int, end_ms: int) -> None:
        """A caller turn, timed in audio time."""
        self._lines.append(_CallerLine(text, self._from_audio(onset_ms), self._from_audio(end_ms)))

    def agent_spoke(self, reply: SpokenReply) -> None:
        """A stretch of agent speech; its text and timing are read at the end (barge-in may cut it)."""
        if reply not in self._lines:
            self._lines.append(reply)

    def provider_failed(self, stage: str, provider: str, exc: BaseException, *, cost_ms: int) -> None:
        """A provider was given up; ``cost_ms``: how long the call waited on it before its fallback took over."""
        self.failures.append(f"{stage} {provider}: {type(exc).__name__} after {cost_ms} ms")

    def result(self, *, qualification: Qualification, now: float) -> CallResult:
        return CallResult(
            outcome=self.outcome(qualification),
            transcript=tuple(self.transcript()),
            qualification=replace(qualification),
            turns=tuple(self.turns),
            duration_ms=int((now - self.started_at) * 1000),
            appointment=self.appointment,
            transferred=self.transferred,
            opted_out=self.opted_out,
            provider_failures=tuple(self.failures),
            message=self.message,
        )

    def transcript(self) -> list[TranscriptEntry]:
        entries: list[TranscriptEntry] = []
        for line in self._lines:
            if isinstance(line, _CallerLine):
                entries.append(TranscriptEntry("caller", line.text, line.start_ms, line.end_ms))
            elif text := line.heard_text():
                start, end = self._from_clock(line.started_at), self._from_clock(line.ended_at)
                entries.append(TranscriptEntry("agent", text, start, end, interrupted=line.interrupted))
        return entries

    def outcome(self, qualification: Qualification) -> CallOutcome:
        """The call's outcome, most decisive fact first.

        A caller who spoke but gave no usable qualification and made no request counts as not interested.
        """
        if self.opted_out:
            return "opted_out"
        if self.transferred:
            return "transferred"
        if self.appointment is not None:
            return "appointment_set"
        if self.message is not None:
            return "message_taken"
        if self.end_reason in ("not_interested", "wrong_number"):
            return "not_interested"
        if self.voice_failed:
            return "failed"
        if not any(isinstance(line, _CallerLine) for line in self._lines):
            return "no_answer"
        return "qualified" if is_qualified(qualification) else "not_interested"

    def _from_audio(self, audio_ms: int) -> int:
        origin = self._audio_origin if self._audio_origin is not None else self.started_at
        return max(0, int((origin - self.started_at) * 1000) + audio_ms)

    def _from_clock(self, at: float | None) -> int:
        return max(0, int(((at if at is not None else self.started_at) - self.started_at) * 1000))
