"""The seams of the agent: what it needs from speech providers and from the call's transport.

Audio conventions, fixed for every implementation:

* audio *into* the agent (the caller) is 16-bit signed little-endian PCM, mono, 8 kHz;
* audio *out of* the agent (synthesized speech) is G.711 mu-law, mono, 8 kHz, the telephone's own format,
  so that a provider that can emit it natively (ElevenLabs ``ulaw_8000``) needs no conversion at all.

The agent never imports ``telephony``: the transport implements :class:`CallTransport`, and the host
(the application) implements :class:`CallActions` for what outlives the call (transfer, opt-out, booking).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

SAMPLE_RATE = 8000
"""Sample rate of every audio stream the agent handles, in and out."""


class ProviderError(Exception):
    """A speech or dialog provider failed or timed out; the agent falls back and the call goes on."""


# --- speech-to-text


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    is_final: bool
    confidence: float | None = None
    """The recognizer's confidence in ``text`` (0 to 1), when it reports one."""


class RecognitionStream(Protocol):
    """One utterance being recognized: fed as the caller speaks, finished at the endpoint."""

    def feed(self, pcm: bytes) -> None:
        """Queue caller audio (PCM16 8 kHz); must not block the event loop."""

    def partials(self) -> AsyncIterator[Transcript]:
        """Interim results as they arrive (may yield nothing for providers without partials)."""

    async def finish(self) -> str:
        """Signal end of speech and return the final text of everything fed (may be empty)."""

    async def aclose(self) -> None:
        """Abandon the utterance and release its resources; safe to call more than once."""


class SpeechToText(Protocol):
    """A speech-to-text provider. One instance may serve many calls; streams are per utterance."""

    name: str

    async def warm_up(self) -> None:
        """Open connections or load models ahead of the first caller; idempotent."""

    def start(self, *, language: str) -> RecognitionStream: ...


# --- dialog


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "assistant", "user", "tool"]
    content: str
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    confidence: float | None = None
    """For a caller turn: the recognizer's confidence in ``content`` (0 to 1), when it reported one."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the agent's reply text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The dialog asks the agent to act (transfer, end the call, book, record an opt-out)."""

    id: str
    name: str
    arguments: dict[str, Any]


DialogEvent = TextDelta | ToolCall


@dataclass(slots=True)
class Qualification:
    """What the agent has learned about the prospect so far; every field optional."""

    intent: Literal["buy", "sell", "rent"] | None = None
    area: str | None = None
    property_type: str | None = None
    timeline: str | None = None
    budget: int | None = None
    financing: Literal["pre_approved", "cash", "needs_financing", "fha_loan", "va_loan", "unknown"] | None = None
    name: str | None = None
    email: str | None = None
    bedrooms: int | None = None
    bathrooms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(slots=True)
class DialogContext:
    """What a dialog sees of the call: the business it speaks for and the conversation so far."""

    business_name: str
    agent_name: str
    language: str
    direction: Literal["inbound", "outbound"]
    purpose: Literal["marketing", "informational"] | None
    history: list[Message] = field(default_factory=list)
    qualification: Qualification = field(default_factory=Qualification)
    now: datetime | None = None
    timezone: str = "America/New_York"
    instructions: str = ""
    can_transfer: bool = True
    """A human number is configured: the dialog may offer a transfer (otherwise it offers a callback)."""
    service_areas: tuple[str, ...] = ()
    """The organization's own place names (neighbourhoods, towns), understood besides the US gazetteer."""


class Dialog(Protocol):
    """Produces the agent's reply to the caller's last turn, streaming."""

    name: str

    def respond(self, context: DialogContext, tools: Sequence[ToolSpec]) -> AsyncIterator[DialogEvent]:
        """Stream the reply to ``context.history[-1]`` (a user or tool message)."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments."""


# --- text-to-speech


class TextToSpeech(Protocol):
    """Synthesizes text to mu-law 8 kHz audio, streaming: chunks are yielded as soon as they exist."""

    name: str
    voice: str

    async def warm_up(self) -> None: ...

    def synthesize(self, text: str) -> AsyncIterator[bytes]: ...


# --- the call


class CallTransport(Protocol):
    """The live audio path to the caller (implemented by ``telephony`` over Twilio Media Streams)."""

    async def send_audio(self, ulaw: bytes) -> None:
        """Queue agent speech (mu-law 8 kHz) for playback, in order."""

    async def send_mark(self, name: str) -> None:
        """Ask to be told (:meth:`CallSession.on_mark`) when everything queued before it has played."""

    async def clear(self) -> None:
        """Drop all queued, unplayed audio at once (barge-in)."""


class CallActions(Protocol):
    """What the agent asks of the host application; every method may fail with an exception."""

    async def transfer_to_human(self, *, reason: str) -> bool:
        """Hand the call to a human; False when no human number is configured."""

    async def end_call(self) -> None:
        """Hang up once the last audio has played."""

    async def book_appointment(self, *, starts_at: datetime, notes: str) -> str:
        """Create the appointment; returns a human-readable confirmation (time and place)."""

    async def record_opt_out(self, *, how: str) -> None:
        """Put the caller's number on the organization's internal Do-Not-Call list at once."""
