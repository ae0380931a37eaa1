"""Speaking to the caller: text -> synthesis (streaming) -> transport, a mark after each chunk.

Audio is handed to the transport as the voice produces it, never after the whole chunk is synthesized. Fixed
phrases come from the :class:`GreetingCache` when present. When the voice fails, or is late by the call's
silence budget (:class:`agent.line_watch.LineWatch`), the fallback voice says the chunk again from its start
(audio cannot tell which words were heard) and stays in use for the rest of the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from agent.clock import Clock
from agent.config import Timeouts
from agent.errors import SpeechUnavailable
from agent.greeting import GreetingCache, PhraseKey
from agent.interfaces import CallTransport, TextToSpeech
from agent.line_watch import LineWatch
from agent.playback import PlaybackTracker, SpokenChunk, SpokenReply

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SpeechTiming:
    """First-occurrence timestamps of one reply's synthesis (session clock, seconds)."""

    tts_started_at: float | None = None
    first_byte_at: float | None = None
    first_audio_at: float | None = None


class Speaker:
    """Plays text to one call's transport in the call's current voice."""

    def __init__(
        self,
        *,
        transport: CallTransport,
        tracker: PlaybackTracker,
        clock: Clock,
        timeouts: Timeouts,
        watch: LineWatch,
        tts: TextToSpeech,
        fallback_tts: TextToSpeech | None,
        cache: GreetingCache | None,
        organization_id: str,
        on_provider_failure: Callable[[str, str, BaseException, float], None],
        on_audio: Callable[[], None],
    ) -> None:
        self._transport = transport
        self._tracker = tracker
        self._clock = clock
        self._timeouts = timeouts
        self._watch = watch
        self.tts = tts
        self._primary = tts
        self._fallback = fallback_tts
        self._cache = cache
        self._organization_id = organization_id
        self._on_provider_failure = on_provider_failure
        self._on_audio = on_audio
        self._failed_over = False

    async def say(
        self, reply: SpokenReply, text: str, *, timing: SpeechTiming | None = None, cache: bool = False
    ) -> None:
        """Speak one chunk of ``reply`` and queue its mark; raises :class:`SpeechUnavailable` if no voice can."""
        await self._speak(reply, text, self.cached(text) if cache else None, timing=timing, cache=cache)

    async def say_from_cache(self, reply: SpokenReply, text: str) -> bool:
        """Play ``text`` from the cache only: in the current voice, else in the call's other voice (the one a
        failover left behind still has its phrases); False when neither has it."""
        voices = (self.tts, *(v for v in (self._primary, self._fallback) if v is not None and v is not self.tts))
        audio = next((a for tts in voices if (a := self._cached_in(tts, text)) is not None), None)
        if audio is None:
            return False
        await self._speak(reply, text, audio, timing=None, cache=True)
        return True

    async def _speak(
        self, reply: SpokenReply, text: str, cached: bytes | None, *, timing: SpeechTiming | None, cache: bool
    ) -> None:
        chunk = self._tracker.new_chunk(reply, text)
        try:
            if cached is not None:
                if timing is not None and timing.tts_started_at is None:
                    timing.tts_started_at = self._clock.now()
                await self._send(chunk, cached, timing)
            else:
                await self._synthesize(chunk, text, timing, cache=cache)
        except BaseException:
            self._tracker.discard(chunk)
            raise
        if chunk.audio_bytes == 0:
            self._tracker.discard(chunk)
            return
        await self._transport.send_mark(chunk.mark)

    def take_failover(self) -> bool:
        """Whether the voice was replaced by its fallback since the last call (and forget it)."""
        failed_over, self._failed_over = self._failed_over, False
        return failed_over

    async def warm(self, text: str) -> None:
        """Synthesize ``text`` whole into the cache in the current voice (no cache: nothing to do)."""
        if self._cache is not None:
            await self._cache.synthesize(organization_id=self._organization_id, tts=self.tts, text=text)

    def cached(self, text: str) -> bytes | None:
        """The phrase's audio in the current voice if the cache holds it."""
        return self._cached_in(self.tts, text)

    def _cached_in(self, tts: TextToSpeech, text: str) -> bytes | None:
        if self._cache is None:
            return None
        return self._cache.get(PhraseKey.for_voice(organization_id=self._organization_id, tts=tts, text=text))

    async def _synthesize(self, chunk: SpokenChunk, text: str, timing: SpeechTiming | None, *, cache: bool) -> None:
        while True:
            tts = self.tts
            collected: list[bytes] | None = [] if cache and self._cache is not None else None
            if timing is not None and timing.tts_started_at is None:
                timing.tts_started_at = self._clock.now()
            stream = self._stream(tts, text)
            waiting_since = self._clock.now()
            try:
                async for audio in stream:
                    if collected is not None:
                        collected.append(audio)
                    await self._send(chunk, audio, timing)
                    waiting_since = self._clock.now()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any provider failure: the fallback voice takes over
                self._on_provider_failure("tts", tts.name, exc, self._clock.now() - waiting_since)
                if self._fallback is None or self._fallback is tts:
                    raise SpeechUnavailable(f"voice {tts.name} failed and no fallback is left") from exc
                self.tts = self._fallback
                self._failed_over = True
                continue
            finally:
                await stream.aclose()
            if collected and self._cache is not None:
                self._cache.put(PhraseKey.for_voice(organization_id=self._organization_id, tts=tts, text=text),
                                b"".join(collected))  # fmt: skip
            return

    async def _stream(self, tts: TextToSpeech, text: str) -> AsyncGenerator[bytes, None]:
        iterator = tts.synthesize(text).__aiter__()
        timeout = self._timeouts.tts_first_byte
        watched = self._fallback is not None and tts is not self._fallback
        try:
            while True:
                try:
                    async with self._watch.waiting("tts", limit=timeout, watched=watched):
                        audio = await anext(iterator)
                except StopAsyncIteration:
                    return
                timeout = self._timeouts.tts_next_chunk
                if audio:
                    yield audio
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _send(self, chunk: SpokenChunk, audio: bytes, timing: SpeechTiming | None) -> None:
        now = self._clock.now()
        if timing is not None:
            if timing.first_byte_at is None:
                timing.first_byte_at = now
        self._tracker.audio_sent(chunk, len(audio), now)
        self._on_audio()
        await self._transport.send_audio(audio)
        if timing is not None and timing.first_audio_at is None:
            timing.first_audio_at = self._clock.now()
