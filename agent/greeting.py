"""Synthesized audio of fixed phrases (the greeting above all), kept per organization, voice and text.

A call's first audio frame must leave within 50 ms of the stream starting, far less than any synthesis takes,
so the greeting is synthesized once (warmed at start-up or on the first call) and replayed from memory.
The cache is bounded (least recently used entries go first) so memory stays flat however many organizations
and voices pass through a process; concurrent misses for the same phrase share one synthesis.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from agent.interfaces import TextToSpeech

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PhraseKey:
    organization_id: str
    voice: str
    """Provider and voice, e.g. "elevenlabs/Rachel"; audio from one voice never answers for another."""
    text: str

    @classmethod
    def for_voice(cls, *, organization_id: str, tts: TextToSpeech, text: str) -> PhraseKey:
        return cls(organization_id=organization_id, voice=f"{tts.name}/{tts.voice}", text=text)


class GreetingCache:
    """An LRU map from :class:`PhraseKey` to mu-law audio, bounded by entry count and total bytes."""

    def __init__(self, *, max_entries: int = 512, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._entries: OrderedDict[PhraseKey, bytes] = OrderedDict()
        self._inflight: dict[PhraseKey, asyncio.Future[bytes]] = {}
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def get(self, key: PhraseKey) -> bytes | None:
        """The cached audio, or None; a hit makes the entry the most recently used."""
        audio = self._entries.get(key)
        if audio is not None:
            self._entries.move_to_end(key)
        return audio

    def put(self, key: PhraseKey, audio: bytes) -> None:
        if not audio or len(audio) > self._max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._entries[key] = audio
        self._bytes += len(audio)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted)

    async def synthesize(self, *, organization_id: str, tts: TextToSpeech, text: str) -> bytes:
        """The phrase's audio, from the cache or synthesized whole and cached; provider errors propagate."""
        key = PhraseKey.for_voice(organization_id=organization_id, tts=tts, text=text)
        cached = self.get(key)
        if cached is not None:
            return cached
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            audio = b"".join([chunk async for chunk in tts.synthesize(text)])
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here so a miss nobody else awaited is not logged as unhandled
            raise
        finally:
            self._inflight.pop(key, None)
        self.put(key, audio)
        future.set_result(audio)
        return audio

    async def warm(self, *, organization_id: str, tts: TextToSpeech, texts: Iterable[str]) -> int:
        """Synthesize the phrases not cached yet (start-up, or an organization's settings changed).

        Returns how many phrases are cached; a failing phrase is logged and skipped, since a cold greeting
        is slower, not broken.
        """
        ready = 0
        for text in texts:
            try:
                await self.synthesize(organization_id=organization_id, tts=tts, text=text)
                ready += 1
            except Exception:
                logger.exception("greeting warm-up failed", extra={"organization_id": organization_id,
                                                                   "voice": f"{tts.name}/{tts.voice}"})  # fmt: skip
        return ready
