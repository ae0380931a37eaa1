"""What a call leaves behind for the persistence layer: outcome, transcript, qualification, latencies."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from agent.interfaces import Qualification

CallOutcome = Literal[
    "qualified",
    "appointment_set",
    "transferred",
    "message_taken",
    "not_interested",
    "opted_out",
    "no_answer",
    "failed",
]
Speaker = Literal["agent", "caller"]


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    speaker: Speaker
    text: str
    start_ms: int
    """Offset from the start of the call."""
    end_ms: int
    interrupted: bool = False
    """Agent speech cut short by the caller; ``text`` is only the part that was heard."""


@dataclass(frozen=True, slots=True)
class TurnLatency:
    """Where the time went between the caller finishing a turn and the agent's first audio.

    ``endpointing_ms`` is audio time (silence waited for); the rest are wall-clock from the session's clock.
    A stage that did not happen (no reply was produced) is None.
    """

    turn: int
    endpointing_ms: float
    stt_final_ms: float | None = None
    """Endpoint to the final transcript."""
    dialog_first_token_ms: float | None = None
    """Dialog request to its first text."""
    first_chunk_ms: float | None = None
    """Dialog request to the first chunk of text ready for synthesis."""
    tts_first_byte_ms: float | None = None
    """First chunk handed to synthesis to its first audio byte."""
    first_audio_out_ms: float | None = None
    """Endpoint to the first audio handed to the transport."""

    @property
    def overhead_ms(self) -> float | None:
        """The platform's own share: first audio out minus recognizer, dialog and synthesis time."""
        stt, chunk, tts, out = self.stt_final_ms, self.first_chunk_ms, self.tts_first_byte_ms, self.first_audio_out_ms
        if stt is None or chunk is None or tts is None or out is None:
            return None
        return out - stt - chunk - tts

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "overhead_ms": self.overhead_ms}


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    starts_at: datetime
    confirmation: str


@dataclass(frozen=True, slots=True)
class CallResult:
    """Everything the session learned, handed to the host when the call ends."""

    outcome: CallOutcome
    transcript: tuple[TranscriptEntry, ...]
    qualification: Qualification
    turns: tuple[TurnLatency, ...]
    duration_ms: int
    appointment: AppointmentRecord | None = None
    transferred: bool = False
    opted_out: bool = False
    provider_failures: tuple[str, ...] = ()
    """One line per provider failure that forced a fallback, with what it cost the caller in waiting, e.g.
    "dialog openai: TimeoutError after 2000 ms"."""
    message: str | None = None
    """What the caller asked us to pass on to an agent who will call them back (no transfer was possible)."""
