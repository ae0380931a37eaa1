"""Offline speech-to-text: pocketsphinx with the US English model shipped in its PyPI package.

Decoding streams while the caller speaks: audio is batched (about 200 ms at a time) to a leased decoder
process, each batch answers with a partial hypothesis, and :meth:`finish` only has to decode the tail.
The model is 16 kHz wideband; telephone audio is upsampled to it, so sibilants, whose energy the phone
band cuts off above 4 kHz, are misheard now and then ("sell" comes out as "show"). Each decoder process
adapts its cepstral mean to what it has heard, so a fresh process is least accurate on its first
utterance. It is the no-account fallback, not a replacement for a cloud recognizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from agent.interfaces import ProviderError, Transcript
from agent.providers.sphinx_pool import DecoderPool

logger = logging.getLogger(__name__)

_BATCH_BYTES = 3200
"""200 ms of PCM16 at 8 kHz: how much audio goes to the decoder per round trip while the caller speaks."""


class PocketsphinxSTT:
    """The local recognizer; one instance serves every call, decoders are pooled across them."""

    name = "pocketsphinx"

    def __init__(
        self,
        *,
        warm_decoders: int = 2,
        max_decoders: int = 4,
        final_timeout: float = 10.0,
        pool: DecoderPool | None = None,
    ) -> None:
        self._pool = pool or DecoderPool(warm=warm_decoders, limit=max_decoders)
        self._final_timeout = final_timeout
        self._warned_languages: set[str] = set()

    async def warm_up(self) -> None:
        """Start the warm decoder processes (each loads the model once)."""
        await self._pool.warm_up()

    def start(self, *, language: str) -> PocketsphinxRecognitionStream:
        """Start recognizing an utterance; must be called from the event loop. Only English is shipped."""
        if not language.lower().startswith("en") and language not in self._warned_languages:
            self._warned_languages.add(language)
            logger.warning("pocketsphinx only has an English model; recognizing %s speech as English", language)
        return PocketsphinxRecognitionStream(self._pool, final_timeout=self._final_timeout)

    async def aclose(self) -> None:
        await self._pool.aclose()


class PocketsphinxRecognitionStream:
    """One utterance: a background task leases a decoder and feeds it what :meth:`feed` queued."""

    def __init__(self, pool: DecoderPool, *, final_timeout: float) -> None:
        self._pool = pool
        self._final_timeout = final_timeout
        self._pending = bytearray()
        self._audio_ready = asyncio.Event()
        self._partials: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._last_partial = ""
        self._finishing = False
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._decode(), name="pocketsphinx-utterance")
        self._task.add_done_callback(_retrieve_outcome)

    def feed(self, pcm: bytes) -> None:
        if self._finishing or self._closed:
            return
        self._pending += pcm
        if len(self._pending) >= _BATCH_BYTES:
            self._audio_ready.set()

    async def partials(self) -> AsyncIterator[Transcript]:
        while (transcript := await self._partials.get()) is not None:
            yield transcript

    async def finish(self) -> str:
        if self._closed:
            return ""
        self._finishing = True
        self._audio_ready.set()
        try:
            return await asyncio.wait_for(self._task, self._final_timeout)
        except TimeoutError as exc:
            raise ProviderError(f"pocketsphinx gave no final result within {self._final_timeout:.1f} s") from exc
        finally:
            self._close()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ProviderError):
            await self._task

    def _close(self) -> None:
        self._closed = True
        self._pending.clear()
        self._partials.put_nowait(None)

    async def _decode(self) -> str:
        decoder = await self._pool.acquire()
        try:
            await self._pool.call(decoder, ("begin",))
            while True:
                await self._audio_ready.wait()
                self._audio_ready.clear()
                if self._pending:
                    batch = bytes(self._pending)
                    self._pending.clear()
                    self._publish(await self._pool.call(decoder, ("audio", batch)) or "")
                if self._finishing and not self._pending:
                    return await self._pool.call(decoder, ("end",)) or ""
        finally:
            # The decoder process serializes requests, so even a release while a request is still in
            # flight (this task cancelled) cannot interleave with the next user's "begin".
            self._pool.release(decoder)

    def _publish(self, partial: str) -> None:
        if partial and partial != self._last_partial and not self._closed:
            self._last_partial = partial
            self._partials.put_nowait(Transcript(text=partial, is_final=False))


def _retrieve_outcome(task: asyncio.Task[str]) -> None:
    # finish() raises failures to its caller; this keeps an abandoned stream's failure from being reported
    # as "never retrieved".
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.debug("pocketsphinx utterance failed: %s", exc)
