"""The caller's speech to text: one recognizer stream per utterance, opened at the onset with the pre-roll,
fed as the caller speaks, finished at the endpoint.

When the recognizer fails (to start, to take audio, to finish in time), the utterance is recognized again by
the fallback recognizer from the whole utterance audio the turn detector kept, and the fallback serves the
rest of the call: the caller is not asked to repeat themselves because a service hiccuped. A recognizer that
is late by the call's silence budget (:class:`agent.line_watch.LineWatch`) counts as failed; its late text is
dropped with its stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.config import Timeouts
from agent.interfaces import RecognitionStream, SpeechToText
from agent.line_watch import LineWatch

logger = logging.getLogger(__name__)


class Listener:
    """Recognizer streams for one call, with fallback."""

    def __init__(
        self,
        *,
        stt: SpeechToText,
        fallback: SpeechToText | None,
        language: str,
        timeouts: Timeouts,
        watch: LineWatch,
        on_provider_failure: Callable[[str, str, BaseException, float], None],
    ) -> None:
        self._stt = stt
        self._fallback = fallback
        self._language = language
        self._timeouts = timeouts
        self._watch = watch
        self._on_provider_failure = on_provider_failure
        self._stream: RecognitionStream | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> bool:
        """A stream is open and taking audio."""
        return self._stream is not None

    def begin(self, audio: bytes) -> None:
        """Speech started: open a stream and give it the audio so far (pre-roll included)."""
        if self._stream is not None:  # an utterance that never ended cleanly
            self._close_later(self._stream)
            self._stream = None
        try:
            stream = self._stt.start(language=self._language)
            stream.feed(audio)
        except Exception as exc:  # the utterance is recognized again at its end
            self._failed(exc)
            return
        self._stream = stream

    def feed(self, pcm: bytes) -> None:
        """More of the utterance; must stay cheap (called for every frame while the caller speaks)."""
        if self._stream is None:
            return
        try:
            self._stream.feed(pcm)
        except Exception as exc:  # the utterance is recognized again at its end
            self._failed(exc)
            self._close_later(self._stream)
            self._stream = None

    def end(self) -> RecognitionStream | None:
        """Speech ended: hand over the utterance's stream (None if the recognizer failed on the way)."""
        stream, self._stream = self._stream, None
        return stream

    async def recognize(self, stream: RecognitionStream | None, audio: bytes) -> str | None:
        """The utterance's final text ("" when nothing was said), or None when no recognizer could tell."""
        if stream is not None:
            stt = self._stt
            watched = self._fallback is not None and self._fallback is not stt
            started = self._watch.now()
            try:
                async with self._watch.waiting("stt", limit=self._timeouts.stt_final, watched=watched):
                    return (await stream.finish()).strip()
            except Exception as exc:  # provider failure or timeout
                self._on_provider_failure("stt", stt.name, exc, self._watch.now() - started)
            finally:
                await _close(stream)
        fallback = self._fallback
        if fallback is None:
            return None
        self._stt = fallback
        started = self._watch.now()
        try:
            retry = fallback.start(language=self._language)
            try:
                retry.feed(audio)
                async with asyncio.timeout(self._timeouts.stt_final):
                    return (await retry.finish()).strip()
            finally:
                await _close(retry)
        except Exception as exc:  # the fallback failed too
            self._on_provider_failure("stt", fallback.name, exc, self._watch.now() - started)
            return None

    async def aclose(self) -> None:
        if self._stream is not None:
            await _close(self._stream)
            self._stream = None
        if self._closing:
            await asyncio.wait(self._closing)

    def _failed(self, exc: BaseException) -> None:
        self._on_provider_failure("stt", self._stt.name, exc, 0.0)

    def _close_later(self, stream: RecognitionStream) -> None:
        task = asyncio.create_task(_close(stream))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def _close(stream: RecognitionStream) -> None:
    try:
        await stream.aclose()
    except Exception as exc:  # closing a broken stream must not break the call
        logger.debug("recognizer close failed", extra={"error": repr(exc)})
