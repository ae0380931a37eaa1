"""A call on the agent's fakes: a session, its transport and host, and a caller who speaks real audio."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent import phrases
from agent.clock import Clock, ManualClock
from agent.config import ComplianceDuties, Providers, SessionConfig, SilenceBudget, Timeouts
from agent.fakes import FakeDialog, FakeSpeechToText, FakeTextToSpeech, RecordingCallActions, RecordingTransport
from agent.greeting import GreetingCache
from agent.interfaces import Dialog, SpeechToText, TextToSpeech
from agent.phrases import Identity
from agent.session import CallSession
from tests.agent.audio_samples import SpeechFactory, silence, trim

NOW = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)  # Tuesday, 10:00 in Chicago
FRAME_BYTES = 320
"""20 ms of caller PCM, what a media stream delivers at a time, speech or not."""
LOOP_TURNS_PER_FRAME = 60
"""Event-loop iterations given to the session and in-process doubles after each frame: work that needs no
media time happens within the frame, however loaded the machine is."""


async def until(condition: Callable[[], bool], *, within_s: float = 3.0) -> None:
    """Let the event loop run until ``condition`` holds (any condition, hence polling)."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - the conditions are arbitrary test observations
            await asyncio.sleep(0.001)


@dataclass
class Call:
    speech: SpeechFactory
    stt: SpeechToText = field(default_factory=FakeSpeechToText)
    dialog: Dialog = field(default_factory=FakeDialog)
    tts: TextToSpeech = field(default_factory=FakeTextToSpeech)
    fallback_stt: SpeechToText | None = None
    fallback_dialog: Dialog | None = None
    fallback_tts: TextToSpeech | None = None
    actions: RecordingCallActions = field(default_factory=RecordingCallActions)
    compliance: ComplianceDuties = field(default_factory=ComplianceDuties)
    direction: str = "inbound"
    purpose: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    silence_budget: SilenceBudget = field(default_factory=SilenceBudget)
    greetings: GreetingCache | None = field(default_factory=GreetingCache)
    manual_clock: ManualClock = field(default_factory=ManualClock)
    """The call's clock unless ``realtime``: moved by the caller's frames and the line's playback."""
    transfer_available: bool = True
    realtime: bool = False
    """Real clock and a transport that plays in (sped-up) real time, instead of a manual clock."""
    frame_pause_s: float = 0.0
    """Real time between frames in :meth:`step`, for providers that answer from their own threads."""
    on_frame: list[Callable[[], None]] = field(default_factory=list)
    """Called after the media clock moved by a frame (doubles that act on the call's clock)."""
    session: CallSession = field(init=False)
    transport: RecordingTransport = field(init=False)
    clock: Clock = field(init=False)

    def __post_init__(self) -> None:
        if self.realtime:
            from agent.clock import MonotonicClock

            self.clock = MonotonicClock()
            self.transport = RecordingTransport(realtime=True, speed=50.0)
        else:
            self.clock = self.manual_clock
            self.transport = RecordingTransport(clock=self.manual_clock)
        config = SessionConfig(
            call_id="CA-test",
            organization_id="org-1",
            identity=Identity("Acme Realty", agent_name="Ava", callback_number="+15125550123"),
            direction=self.direction,  # type: ignore[arg-type]
            purpose=self.purpose,  # type: ignore[arg-type]
            timezone="America/Chicago",
            compliance=self.compliance,
            silence=self.silence_budget,
            timeouts=self.timeouts,
            transfer_available=self.transfer_available,
        )
        self.session = CallSession(
            config=config,
            transport=self.transport,
            actions=self.actions,
            providers=Providers(
                stt=self.stt,
                dialog=self.dialog,
                tts=self.tts,
                fallback_stt=self.fallback_stt,
                fallback_dialog=self.fallback_dialog,
                fallback_tts=self.fallback_tts,
            ),
            greetings=self.greetings,
            clock=self.clock,
            wall_clock=lambda: NOW,
        )
        self.transport.attach(self.session.on_mark)

    async def warm_greeting(self) -> None:
        assert self.greetings is not None
        await self.greetings.warm(
            organization_id="org-1", tts=self.tts, texts=[self.session.greeting_text(), phrases.HOLD]
        )

    async def answer(self) -> None:
        """Start the session and let the greeting play out."""
        await self.session.start()
        await until(lambda: bool(self.transport.marks_sent))
        await self.play()

    async def play(self, ms: float | None = None) -> None:
        if not self.realtime:
            await self.transport.play(ms)

    async def feed(self, pcm: bytes, *, advance_clock: bool = True) -> None:
        """Caller audio in 20 ms frames, the way a media stream delivers it."""
        for i in range(0, len(pcm), 320):
            if advance_clock and isinstance(self.clock, ManualClock):
                self.clock.advance(0.02)
            await self.session.feed_audio(pcm[i : i + 320])

    async def say(self, words: str, *, advance_clock: bool = True) -> None:
        """The caller speaks ``words`` (espeak audio) and falls silent long enough to end the turn."""
        await self.feed(silence(200) + self.speech(words) + silence(600), advance_clock=advance_clock)

    async def settle(self) -> None:
        async with asyncio.timeout(3.0):
            await self.session.settled()

    def agent_lines(self) -> list[str]:
        return [e.text for e in self.session.result().transcript if e.speaker == "agent"]

    # --- a call on the media clock: one frame at a time, the line playing in step

    async def step(self, frame: bytes = silence(20)) -> None:
        """20 ms of the call: the line plays 20 ms of agent audio (the clock moves), one caller frame goes in,
        and the session and doubles get their turns."""
        await self.transport.play(20)
        for moved in self.on_frame:
            moved()
        await self.session.feed_audio(frame)
        for _ in range(LOOP_TURNS_PER_FRAME):
            await asyncio.sleep(0)
        if self.frame_pause_s:
            await asyncio.sleep(self.frame_pause_s)

    async def speak(self, words: str) -> float:
        """The caller says ``words`` (after a short pause), frame by frame; returns when they stopped, on
        the call's clock."""
        pcm = silence(200) + trim(self.speech(words))
        pcm += b"\x00" * (-len(pcm) % FRAME_BYTES)
        for i in range(0, len(pcm), FRAME_BYTES):
            await self.step(pcm[i : i + FRAME_BYTES])
        return self.clock.now()

    async def listen(self, seconds: float) -> None:
        """The caller stays quiet for ``seconds`` of the call's time."""
        for _ in range(round(seconds / 0.02)):
            await self.step()

    def longest_silence_since(self, moment: float) -> float:
        """The longest stretch without agent audio the caller heard from ``moment`` to the end of the last
        agent audio; infinite when nothing was heard after ``moment``."""
        heard = [(start, end) for start, end in self.transport.heard if end > moment]
        if not heard:
            return float("inf")
        longest, edge = 0.0, moment
        for start, end in heard:
            longest = max(longest, start - edge)
            edge = max(edge, end)
        return longest

    def first_audio_since(self, moment: float, text: str) -> float:
        """When the agent line saying ``text`` started to be heard, after ``moment`` (call's clock)."""
        entry = next(e for e in self.session.result().transcript if e.speaker == "agent" and text in e.text
                     and e.start_ms / 1000 >= moment - 1e-9)  # fmt: skip
        return entry.start_ms / 1000
