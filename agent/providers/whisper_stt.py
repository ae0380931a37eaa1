"""Offline speech-to-text: Whisper tiny.en (CTranslate2, int8), the model shipped by a PyPI package.

Decoding runs on a bounded pool of worker threads, never on the event loop. While the caller speaks, the
growing utterance is decoded again whenever they pause (and every ``decode_interval_ms`` of new audio), if a
worker is free; those results are the partials. At the endpoint, a decode that already covers every loud
frame of the utterance is the final text: the caller's trailing silence, which the turn detector waits for,
has usually paid for it. Otherwise the whole utterance is decoded once more.

The recognizer is biased towards the call's domain by Whisper's initial prompt: a line such as a caller of a
brokerage says, naming the places the organization serves (:meth:`WhisperSTT.for_places`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from agent.audio import PCM_BYTES_PER_MS, audioop
from agent.interfaces import ProviderError, SpeechToText, Transcript
from agent.providers.whisper_model import Hypothesis, WhisperEngine, domain_prompt

logger = logging.getLogger(__name__)

PAUSE_MS = 160
"""Quiet after loud audio that counts as a pause worth decoding at."""
MIN_LOUD_RMS = 200
LOUD_FRACTION = 0.2
"""A frame is loud above this fraction of the utterance's loudest frame's RMS (about -14 dB) and MIN_LOUD_RMS."""


class WhisperSTT:
    """The local recognizer; one instance (one model, one worker pool) serves every call of the process."""

    name = "whisper"

    def __init__(
        self,
        *,
        model_dir: Path,
        workers: int = 2,
        threads_per_worker: int = 2,
        decode_interval_ms: int = 700,
        final_timeout: float = 10.0,
    ) -> None:
        if workers < 1 or threads_per_worker < 1:
            raise ValueError("workers and threads_per_worker must be at least 1")
        self._model_dir = model_dir
        self._workers = workers
        self._threads = threads_per_worker
        self._decode_interval_ms = decode_interval_ms
        self._final_timeout = final_timeout
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")
        self._load_lock = threading.Lock()
        self._engine: Future[WhisperEngine] | None = None
        self._busy = 0  # decodes submitted and not done; touched on event loops only
        self._warned_languages: set[str] = set()
        self._prompt = domain_prompt()

    async def warm_up(self) -> None:
        """Load the model (once); raises :class:`~agent.providers.whisper_model.ModelLoadError` if it cannot."""
        await asyncio.wrap_future(self._loading())

    def for_places(self, places: Sequence[str]) -> SpeechToText:
        """This recognizer, its prompt naming ``places``; shares the model and the workers."""
        return _Biased(self, domain_prompt(places)) if places else self

    def start(self, *, language: str) -> WhisperRecognitionStream:
        return self.start_with_prompt(language=language, prompt=self._prompt)

    def start_with_prompt(self, *, language: str, prompt: str) -> WhisperRecognitionStream:
        """Start recognizing an utterance; must be called from the event loop. Only English is shipped."""
        if not language.lower().startswith("en") and language not in self._warned_languages:
            self._warned_languages.add(language)
            logger.warning("the local recognizer only has an English model; recognizing %s speech as English", language)
        return WhisperRecognitionStream(self, prompt=prompt, decode_interval_ms=self._decode_interval_ms)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def idle_workers(self) -> int:
        return self._workers - self._busy

    @property
    def final_timeout(self) -> float:
        return self._final_timeout

    async def decode(self, pcm: bytes, *, prompt: str) -> Hypothesis:
        """Decode on a worker thread (queueing while every worker is busy)."""
        engine = await asyncio.wrap_future(self._loading())
        self._busy += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, lambda: engine.decode(pcm, prompt=prompt)
            )
        except Exception as exc:  # CTranslate2 errors, or the executor shut down: this utterance fails
            raise ProviderError(f"the local recognizer failed: {exc}") from exc
        finally:
            self._busy -= 1

    def _loading(self) -> Future[WhisperEngine]:
        with self._load_lock:
            if self._engine is None:
                try:
                    self._engine = self._executor.submit(
                        WhisperEngine.load, self._model_dir, workers=self._workers, threads_per_worker=self._threads
                    )
                except RuntimeError as exc:
                    raise ProviderError("the local recognizer is closed") from exc
            return self._engine


class _Biased:
    """:class:`WhisperSTT` with an organization's prompt."""

    def __init__(self, stt: WhisperSTT, prompt: str) -> None:
        self._stt = stt
        self.prompt = prompt
        self.name = stt.name

    async def warm_up(self) -> None:
        await self._stt.warm_up()

    def start(self, *, language: str) -> WhisperRecognitionStream:
        return self._stt.start_with_prompt(language=language, prompt=self.prompt)


class WhisperRecognitionStream:
    """One utterance: its audio, the loudness that decides when to decode, and the decode under way."""

    def __init__(self, stt: WhisperSTT, *, prompt: str, decode_interval_ms: int) -> None:
        self._stt = stt
        self._prompt = prompt
        self._interval_bytes = decode_interval_ms * PCM_BYTES_PER_MS
        self._pause_bytes = PAUSE_MS * PCM_BYTES_PER_MS
        self._audio = bytearray()
        self._peak_rms = 0
        self._loud_end = 0  # bytes of audio up to the end of the last loud frame
        self._decoded_upto = 0  # bytes of audio the latest started decode covers
        self._running: asyncio.Task[tuple[int, str]] | None = None
        self._latest: tuple[int, str] | None = None  # (bytes covered, text) of the latest finished decode
        self._partials: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._finishing = False
        self._closed = False

    def feed(self, pcm: bytes) -> None:
        if self._finishing or self._closed or not pcm:
            return
        self._audio += pcm
        rms = audioop.rms(pcm[: len(pcm) & ~1], 2)
        self._peak_rms = max(self._peak_rms, rms)
        if rms >= max(MIN_LOUD_RMS, LOUD_FRACTION * self._peak_rms):
            self._loud_end = len(self._audio)
        if self._running is None and self._stt.idle_workers > 0 and self._worth_decoding():
            self._running = self._start_decode()

    async def partials(self) -> AsyncIterator[Transcript]:
        while (transcript := await self._partials.get()) is not None:
            yield transcript

    async def finish(self) -> str:
        if self._closed:
            return ""
        self._finishing = True
        try:
            async with asyncio.timeout(self._stt.final_timeout):
                if self._loud_end == 0:
                    return ""
                running = self._running
                if running is not None and self._decoded_upto >= self._loud_end:
                    with contextlib.suppress(ProviderError):  # decoded again below
                        return (await running)[1]
                if self._latest is not None and self._latest[0] >= self._loud_end:
                    return self._latest[1]
                return (await self._decode(bytes(self._audio)))[1]
        except TimeoutError as exc:
            raise ProviderError(f"the local recognizer gave no result within {self._stt.final_timeout:.1f} s") from exc
        finally:
            self._close()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._close()
        if self._running is not None:
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError, ProviderError):
                await self._running

    def _worth_decoding(self) -> bool:
        new_loud = self._loud_end > self._decoded_upto
        paused = len(self._audio) - self._loud_end >= self._pause_bytes
        return new_loud and (paused or len(self._audio) - self._decoded_upto >= self._interval_bytes)

    def _start_decode(self) -> asyncio.Task[tuple[int, str]]:
        self._decoded_upto = len(self._audio)
        task = asyncio.get_running_loop().create_task(self._decode(bytes(self._audio)), name="whisper-partial")
        task.add_done_callback(self._partial_done)
        return task

    async def _decode(self, pcm: bytes) -> tuple[int, str]:
        hypothesis = await self._stt.decode(pcm, prompt=self._prompt)
        result = (len(pcm), hypothesis.text)
        if self._latest is None or len(pcm) >= self._latest[0]:
            self._latest = result
        return result

    def _partial_done(self, task: asyncio.Task[tuple[int, str]]) -> None:
        self._running = None
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                logger.debug("partial decode failed: %s", task.exception())
            return
        text = task.result()[1]
        if text and not self._closed:
            self._partials.put_nowait(Transcript(text=text, is_final=False))
        if not self._finishing and not self._closed and self._stt.idle_workers > 0 and self._worth_decoding():
            self._running = self._start_decode()

    def _close(self) -> None:
        self._closed = True
        self._audio.clear()
        self._partials.put_nowait(None)
