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
class SilenceBudget:
    """How much silence the caller may hear after they stop talking, whatever a provider does (seconds).

    Everything else derives from these two figures: when a holding phrase plays, and when a late provider is
    given up for its local fallback. ``fallback_lead_s`` is kept back from each figure for the fallback itself
    to produce audio (a cached phrase, the scripted dialog, the local voice's first sentence).
    """

    max_silence_s: float = 1.5
    """Longest silence after the caller stops, or once the agent's audio has run out mid-reply."""
    fallback_by_s: float = 2.5
    """A late reply is replaced by the fallback's, audible this long after the caller stopped."""
    fallback_lead_s: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.fallback_lead_s < self.max_silence_s <= self.fallback_by_s:
            raise ValueError("silence budget: need 0 < fallback lead < max silence <= fallback deadline")

    @property
    def act_after_s(self) -> float:
        """Silence after which the agent acts: 1. after the caller stopped, with no reply audible yet, a
        holding phrase plays and the cloud recognizer is given up for the local one; 2. once the reply's audio
        has run out, a stalled dialog or voice is given up."""
        return self.max_silence_s - self.fallback_lead_s

    @property
    def reply_after_s(self) -> float:
        """Time after the caller stopped before a reply not yet audible is given up for the fallback."""
        return self.fallback_by_s - self.fallback_lead_s


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Wall-clock limits on each provider wait (seconds), for the providers the :class:`SilenceBudget` cannot
    give up on (no fallback: the local ones in embedded mode, a cold voice loading its model) and for when the
    call's frames stop coming; a provider with a fallback is given up far sooner, as the budget says."""

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
    silence: SilenceBudget = field(default_factory=SilenceBudget)
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
