"""In-memory fakes of the agent's seams, shipped beside the real thing for tests, the simulator and the
benchmark. Latencies are fixed and configurable; failures are scripted, never random.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.audio import ULAW_BYTES_PER_MS, tone_ulaw, ulaw_duration_ms
from agent.clock import ManualClock
from agent.interfaces import DialogContext, DialogEvent, ProviderError, TextDelta, ToolSpec, Transcript

# --- speech-to-text


class FakeRecognitionStream:
    """One utterance: counts the audio fed and answers with its scripted text (or error) after a delay."""

    def __init__(self, result: str | BaseException, latency_s: float) -> None:
        self._result = result
        self._latency_s = latency_s
        self.fed_bytes = 0
        self.feeds = 0
        self.finished = False
        self.closed = False

    def feed(self, pcm: bytes) -> None:
        if self.closed:
            raise ProviderError("stream already closed")
        self.fed_bytes += len(pcm)
        self.feeds += 1

    async def partials(self) -> AsyncIterator[Transcript]:
        return
        yield  # an async generator that yields nothing

    async def finish(self) -> str:
        self.finished = True
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        if isinstance(self._result, BaseException):
            raise self._result
        return self._result

    async def aclose(self) -> None:
        self.closed = True


class FakeSpeechToText:
    """Answers each utterance with the next scripted text; an exception in the script is raised instead."""

    def __init__(
        self,
        script: Iterable[str | BaseException] = (),
        *,
        latency_s: float = 0.0,
        default: str = "",
        name: str = "fake-stt",
    ) -> None:
        self.name = name
        self._script: deque[str | BaseException] = deque(script)
        self._latency_s = latency_s
        self._default = default
        self.streams: list[FakeRecognitionStream] = []
        self.warmed = False

    def add(self, *texts: str | BaseException) -> None:
        self._script.extend(texts)

    async def warm_up(self) -> None:
        self.warmed = True

    def start(self, *, language: str) -> FakeRecognitionStream:
        result = self._script.popleft() if self._script else self._default
        stream = FakeRecognitionStream(result, self._latency_s)
        self.streams.append(stream)
        return stream


# --- dialog


@dataclass(frozen=True, slots=True)
class Stall:
    """A scripted dialog reply that never produces anything (to exercise timeouts)."""


DialogScriptItem = str | Sequence[DialogEvent] | BaseException | Stall


class FakeDialog:
    """Replies with the next scripted item: text (streamed word by word), events, an error, or a stall."""

    def __init__(
        self,
        script: Iterable[DialogScriptItem] = (),
        *,
        first_token_latency_s: float = 0.0,
        token_latency_s: float = 0.0,
        default: str = "Okay.",
        name: str = "fake-dialog",
    ) -> None:
        self.name = name
        self._script: deque[DialogScriptItem] = deque(script)
        self._first_token_latency_s = first_token_latency_s
        self._token_latency_s = token_latency_s
        self._default = default
        self.contexts: list[DialogContext] = []

    def add(self, *items: DialogScriptItem) -> None:
        self._script.extend(items)

    async def respond(self, context: DialogContext, tools: Sequence[ToolSpec]) -> AsyncIterator[DialogEvent]:
        self.contexts.append(context)
        item = self._script.popleft() if self._script else self._default
        if self._first_token_latency_s:
            await asyncio.sleep(self._first_token_latency_s)
        if isinstance(item, Stall):
            await asyncio.Event().wait()
            return
        if isinstance(item, BaseException):
            raise item
        events: Sequence[DialogEvent] = _word_deltas(item) if isinstance(item, str) else item
        for i, event in enumerate(events):
            if i and self._token_latency_s:
                await asyncio.sleep(self._token_latency_s)
            yield event


def _word_deltas(text: str) -> list[DialogEvent]:
    words = text.split(" ")
    return [TextDelta(word if i == 0 else f" {word}") for i, word in enumerate(words)]


# --- text-to-speech


class FakeTextToSpeech:
    """A tone whose length is proportional to the text, in chunks, after a fixed first-byte delay.

    ``fail_calls`` lists the synthesize calls (1-based) that raise :class:`ProviderError` instead.
    """

    def __init__(
        self,
        *,
        name: str = "fake-tts",
        voice: str = "tone",
        ms_per_char: int = 50,
        chunk_ms: int = 100,
        first_byte_latency_s: float = 0.0,
        fail_calls: Iterable[int] = (),
        frequency_hz: float = 440.0,
    ) -> None:
        self.name = name
        self.voice = voice
        self._ms_per_char = ms_per_char
        self._chunk = tone_ulaw(ms=chunk_ms, frequency_hz=frequency_hz)
        self._first_byte_latency_s = first_byte_latency_s
        self._fail_calls = set(fail_calls)
        self.texts: list[str] = []
        self.warmed = False

    def audio_ms(self, text: str) -> int:
        """How much audio ``text`` becomes."""
        return max(1, len(text)) * self._ms_per_char

    async def warm_up(self) -> None:
        self.warmed = True

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        self.texts.append(text)
        call = len(self.texts)
        if self._first_byte_latency_s:
            await asyncio.sleep(self._first_byte_latency_s)
        if call in self._fail_calls:
            raise ProviderError(f"{self.name} failed on call {call}")
        remaining = self.audio_ms(text) * ULAW_BYTES_PER_MS
        while remaining > 0:
            piece = self._chunk[:remaining]
            remaining -= len(piece)
            yield piece


# --- the call


class RecordingTransport:
    """Records what the agent plays and simulates the far end's playback and mark echoes.

    Playback is either driven by the test (:meth:`play`, advancing an optional :class:`ManualClock`) or,
    with ``realtime=True``, by the event loop's clock at ``speed`` times real time, the way Twilio plays
    audio and echoes a mark once everything before it has played. :meth:`clear` drops unplayed audio and
    echoes the pending marks at once, as Twilio does.
    """

    def __init__(self, *, clock: ManualClock | None = None, realtime: bool = False, speed: float = 1.0) -> None:
        self.audio = bytearray()
        self.events: list[tuple[str, Any]] = []
        self.marks_echoed: list[str] = []
        self.clears = 0
        self.played_ms = 0.0
        self._clock = clock
        self._realtime = realtime
        self._speed = speed
        self._queue: deque[tuple[str, Any]] = deque()
        self._head_played_ms = 0.0
        self._on_mark: Callable[[str], Awaitable[None]] | None = None
        self._busy_until = 0.0
        self._timers: list[asyncio.TimerHandle] = []
        self._echoes: set[asyncio.Task[None]] = set()
        self.first_audio_at: float | None = None
        self.heard: list[tuple[float, float]] = []
        """Stretches of agent audio played by :meth:`play` on the test's clock: (start, end), in order."""

    def attach(self, on_mark: Callable[[str], Awaitable[None]]) -> None:
        """Where mark echoes go (the session's ``on_mark``)."""
        self._on_mark = on_mark

    @property
    def marks_sent(self) -> list[str]:
        return [name for kind, name in self.events if kind == "mark"]

    @property
    def pending_ms(self) -> float:
        """Audio queued and not yet played."""
        queued = sum(ulaw_duration_ms(n) for kind, n in self._queue if kind == "audio")
        return queued - self._head_played_ms

    async def send_audio(self, ulaw: bytes) -> None:
        if self.first_audio_at is None:
            self.first_audio_at = self._now()
        self.audio += ulaw
        self.events.append(("audio", len(ulaw)))
        self._queue.append(("audio", len(ulaw)))
        if self._realtime:
            loop = asyncio.get_running_loop()
            self._busy_until = max(self._busy_until, loop.time()) + ulaw_duration_ms(len(ulaw)) / 1000 / self._speed

    async def send_mark(self, name: str) -> None:
        self.events.append(("mark", name))
        self._queue.append(("mark", name))
        if self._realtime:
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_at(max(self._busy_until, loop.time()), self._echo_due, name))

    async def clear(self) -> None:
        self.clears += 1
        self.events.append(("clear", None))
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        pending = [name for kind, name in self._queue if kind == "mark"]
        self._queue.clear()
        self._head_played_ms = 0.0
        self._busy_until = 0.0
        for name in pending:
            await self._echo(name)

    async def play(self, ms: float | None = None) -> None:
        """Play ``ms`` of queued audio (all of it when None), echoing marks as they are reached."""
        budget = float("inf") if ms is None else ms
        while self._queue:
            kind, value = self._queue[0]
            if kind == "mark":
                self._queue.popleft()
                await self._echo(value)
                continue
            left = ulaw_duration_ms(value) - self._head_played_ms
            step = min(left, budget)
            started = self._now()
            self._advance(step)
            if self._clock is not None and step > 0:
                self.heard.append((started, self._now()))
            budget -= step
            if step < left:
                self._head_played_ms += step
                return
            self._queue.popleft()
            self._head_played_ms = 0.0
        if ms is not None and budget not in (0.0, float("inf")):
            self._advance(budget)

    async def aclose(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._echoes:
            await asyncio.gather(*self._echoes, return_exceptions=True)

    def _advance(self, ms: float) -> None:
        self.played_ms += ms
        if self._clock is not None:
            self._clock.advance(ms / 1000)

    def _echo_due(self, name: str) -> None:
        while self._queue:
            kind, value = self._queue.popleft()
            if kind == "mark" and value == name:
                break
        task = asyncio.ensure_future(self._echo(name))
        self._echoes.add(task)
        task.add_done_callback(self._echoes.discard)

    async def _echo(self, name: str) -> None:
        self.marks_echoed.append(name)
        if self._on_mark is not None:
            await self._on_mark(name)

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock.now()
        return asyncio.get_running_loop().time()


@dataclass(slots=True)
class RecordingCallActions:
    """Records what the agent asked of the host; outcomes are configurable."""

    transfer_result: bool = True
    fail: frozenset[str] = frozenset()
    """Action names that raise instead (e.g. {"book_appointment"})."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [args for action, args in self.calls if action == name]

    async def transfer_to_human(self, *, reason: str) -> bool:
        self._record("transfer_to_human", reason=reason)
        return self.transfer_result

    async def end_call(self) -> None:
        self._record("end_call")
        self.ended.set()

    async def book_appointment(self, *, starts_at: datetime, notes: str) -> str:
        self._record("book_appointment", starts_at=starts_at, notes=notes)
        hour = starts_at.hour % 12 or 12
        meridiem = "AM" if starts_at.hour < 12 else "PM"
        return f"{starts_at:%A, %B} {starts_at.day} at {hour}:{starts_at:%M} {meridiem}, with one of our agents."

    async def record_opt_out(self, *, how: str) -> None:
        self._record("record_opt_out", how=how)

    def _record(self, action: str, **arguments: Any) -> None:
        self.calls.append((action, arguments))
        if action in self.fail:
            raise RuntimeError(f"{action} failed (scripted)")
