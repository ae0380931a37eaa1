"""Everything a :class:`agent.session.CallSession` is told about its call, and the providers it may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from agent.chunking import ChunkingConfig
from agent.interfaces import Dialog, SpeechToText, TextToSpeech
from agent.phrases import Identity
from agent.turn_taking import TurnConfig


@dataclass(frozen=True, slots=True)
class ComplianceDuties:
    """What the law asks this call to say and honour, decided by the host (the compliance gate) per call."""

    identify: bool = True
    """Artificial-voice identification at the start: business name and callback number."""
    interactive_opt_out: bool = False
    """Outbound marketing: offer "say stop or press 9", and honour it by recording the request and hanging up."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long each provider may take before the session gives up on it and falls back (seconds)."""

    stt_final: float = 4.0
    dialog_first_token: float = 6.0
    dialog_next_token: float = 6.0
    tts_first_byte: float = 4.0
    tts_next_chunk: float = 4.0
    action: float = 10.0
    """A call action (transfer, booking, opt-out) on the host."""
    playback_slack: float = 2.0
    """Extra wait for mark echoes beyond the queued audio's length before acting anyway."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One call: who the agent speaks for, to whom, and how it takes turns."""

    call_id: str
    organization_id: str
    identity: Identity
    direction: Literal["inbound", "outbound"] = "inbound"
    purpose: Literal["marketing", "informational"] | None = None
    language: str = "en-US"
    timezone: str = "America/New_York"
    instructions: str = ""
    """The organization's own prompt additions for a language-model dialog."""
    compliance: ComplianceDuties = field(default_factory=ComplianceDuties)
    turn_taking: TurnConfig = field(default_factory=TurnConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_tool_rounds: int = 3
    """Dialog calls per caller turn when tools keep asking for follow-ups."""
    idle_reprompt_ms: int = 8000
    """Caller silence after the agent finished before it asks "Are you still there?" (0: never)."""
    max_reprompts: int = 2
    """Unanswered reprompts before the agent says goodbye and hangs up."""
    transfer_available: bool = True
    """A human number is configured; without one the agent offers a callback and takes a message."""
    service_areas: tuple[str, ...] = ()
    """The organization's place names (neighbourhoods, towns) the agent understands besides the US gazetteer."""

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails loudly on an unknown zone


@dataclass(frozen=True, slots=True)
class Providers:
    """The speech providers a call uses; ``fallback_*`` take over when the primary one fails.

    The fallbacks are meant to be local and dependable (the scripted dialog, an offline voice and
    recognizer), so that a failing cloud service costs the caller an apology, never dead air.
    """

    stt: SpeechToText
    dialog: Dialog
    tts: TextToSpeech
    fallback_stt: SpeechToText | None = None
    fallback_dialog: Dialog | None = None
    fallback_tts: TextToSpeech | None = None
