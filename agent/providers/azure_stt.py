"""Azure Speech speech-to-text: continuous recognition from a push stream of mu-law 8 kHz.

The SDK runs its own threads: results arrive as callbacks on them and are handed to the event loop with
``call_soon_threadsafe``; nothing here waits on an SDK future from the loop. The caller's PCM is re-encoded
to mu-law (exact for audio that came off the phone as mu-law), half the bytes of PCM on the wire.

Azure's first request can take seconds, so one recognizer per language is kept connected ahead of need
(``Connection.open``): :meth:`AzureSpeechSTT.start` takes it and a replacement connects in the background.
Endpointing is ours: :meth:`AzureRecognitionStream.finish` closes the push stream, the service finalizes
what it heard, and the session stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import azure.cognitiveservices.speech as speechsdk

from agent.audio import audioop
from agent.interfaces import SAMPLE_RATE, ProviderError, Transcript

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Recognizer:
    """One single-use SDK recognizer with its push stream, connected or connecting."""

    recognizer: speechsdk.SpeechRecognizer
    push: speechsdk.audio.PushAudioInputStream
    connection: speechsdk.Connection


class AzureSpeechSTT:
    """Azure Speech recognizer factory; one instance serves every call.

    Give ``region`` for the cloud service, or ``host`` (``ws://host:port``) for a Speech container or a
    local double speaking the same protocol.
    """

    name = "azure"

    def __init__(
        self,
        *,
        key: str,
        region: str | None = None,
        host: str | None = None,
        language: str = "en-US",
        final_timeout: float = 5.0,
    ) -> None:
        if (region is None) == (host is None):
            raise ValueError("give exactly one of region or host")
        self._key = key
        self._region = region
        self._host = host
        self._language = language
        self._final_timeout = final_timeout
        self._standby: dict[str, _Recognizer] = {}
        self._connecting: set[str] = set()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="azure-speech")
        self._closed = False

    async def warm_up(self) -> None:
        """Connect a recognizer for the default language ahead of the first caller; idempotent."""
        if self._closed or self._language in self._standby or self._language in self._connecting:
            return
        self._connecting.add(self._language)
        try:
            standby = await asyncio.get_running_loop().run_in_executor(self._executor, self._connect, self._language)
        finally:
            self._connecting.discard(self._language)
        self._standby[self._language] = standby

    def start(self, *, language: str) -> AzureRecognitionStream:
        """Start an utterance on the warm recognizer for ``language`` (or a new one) and warm the next."""
        loop = asyncio.get_running_loop()
        session = self._standby.pop(language, None)
        if session is None:
            try:
                session = self._connect(language)
            except (RuntimeError, ValueError) as exc:  # the SDK's errors for a bad configuration
                raise ProviderError(f"could not create an Azure recognizer: {exc}") from exc
        self._replace_standby(loop, language)
        return AzureRecognitionStream(session, loop=loop, executor=self._executor, final_timeout=self._final_timeout)

    async def aclose(self) -> None:
        """Drop the warm recognizers; streams still running finish on their own."""
        self._closed = True
        standby, self._standby = list(self._standby.values()), {}
        for session in standby:
            self._dispose_later(session)
        self._executor.shutdown(wait=False)

    def _replace_standby(self, loop: asyncio.AbstractEventLoop, language: str) -> None:
        if self._closed or language in self._connecting:
            return
        self._connecting.add(language)
        pending = loop.run_in_executor(self._executor, self._connect, language)

        def park(done: asyncio.Future[_Recognizer]) -> None:
            self._connecting.discard(language)
            if done.cancelled():
                return
            if (exc := done.exception()) is not None:
                logger.warning("could not pre-connect an Azure recognizer for %s: %s", language, exc)
            elif self._closed or language in self._standby:
                self._dispose_later(done.result())
            else:
                self._standby[language] = done.result()

        pending.add_done_callback(park)

    def _dispose_later(self, session: _Recognizer) -> None:
        _dispose_in(self._executor, session)

    def _connect(self, language: str) -> _Recognizer:
        # Native calls that return at once: the connection itself is set up by the SDK's threads.
        if self._host is not None:
            config = speechsdk.SpeechConfig(host=self._host, subscription=self._key)
        else:
            config = speechsdk.SpeechConfig(subscription=self._key, region=self._region)
        audio_format = speechsdk.audio.AudioStreamFormat(
            samples_per_second=SAMPLE_RATE,
            bits_per_sample=8,
            channels=1,
            wave_stream_format=speechsdk.audio.AudioStreamWaveFormat.MULAW,
        )
        push = speechsdk.audio.PushAudioInputStream(stream_format=audio_format)
        recognizer = speechsdk.SpeechRecognizer(
            speech_config=config, audio_config=speechsdk.audio.AudioConfig(stream=push), language=language
        )
        connection = speechsdk.Connection.from_recognizer(recognizer)
        connection.open(True)
        return _Recognizer(recognizer=recognizer, push=push, connection=connection)


class AzureRecognitionStream:
    """One utterance on one recognizer. The ``_on_*`` handlers run on SDK threads."""

    def __init__(
        self,
        session: _Recognizer,
        *,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
        final_timeout: float,
    ) -> None:
        self._session = session
        self._loop = loop
        self._executor = executor
        self._final_timeout = final_timeout
        self._partials: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._finals: list[str] = []
        self._stopped = asyncio.Event()
        self._error: str | None = None
        self._closed = False
        recognizer = session.recognizer
        recognizer.recognizing.connect(self._on_recognizing)
        recognizer.recognized.connect(self._on_recognized)
        recognizer.canceled.connect(self._on_canceled)
        recognizer.session_stopped.connect(self._on_session_stopped)
        # Failures to start arrive as a canceled event; the future is kept only so it lives as long as we do.
        self._starting = recognizer.start_continuous_recognition_async()

    def feed(self, pcm: bytes) -> None:
        if not self._closed:
            self._session.push.write(audioop.lin2ulaw(pcm, 2))

    async def partials(self) -> AsyncIterator[Transcript]:
        """Interim hypotheses (``is_final=False``) and settled segments (``is_final=True``) as they come.

        The utterance's text is what :meth:`finish` returns, the settled segments joined.
        """
        while (transcript := await self._partials.get()) is not None:
            yield transcript

    async def finish(self) -> str:
        if self._closed:
            return ""
        self._session.push.close()  # end of stream: the service finalizes and the session stops
        try:
            await asyncio.wait_for(self._stopped.wait(), self._final_timeout)
        except TimeoutError as exc:
            raise ProviderError(f"Azure gave no final result within {self._final_timeout:.1f} s") from exc
        finally:
            self._release()
        if self._error is not None:
            raise ProviderError(f"Azure recognition failed: {self._error}")
        return " ".join(self._finals)

    async def aclose(self) -> None:
        if not self._closed:
            self._session.push.close()
            self._release()

    def _release(self) -> None:
        self._closed = True
        self._partials.put_nowait(None)
        _dispose_in(self._executor, self._session)

    # --- SDK threads

    def _on_recognizing(self, evt: speechsdk.SpeechRecognitionEventArgs) -> None:
        if text := evt.result.text:
            self._call_soon(self._publish, Transcript(text=text, is_final=False))

    def _on_recognized(self, evt: speechsdk.SpeechRecognitionEventArgs) -> None:
        if evt.result.reason == speechsdk.ResultReason.RecognizedSpeech and (text := evt.result.text):
            self._call_soon(self._settle, text)

    def _on_canceled(self, evt: speechsdk.SpeechRecognitionCanceledEventArgs) -> None:
        details = evt.cancellation_details
        if details.reason == speechsdk.CancellationReason.Error:
            self._call_soon(self._fail, f"{details.code.name}: {details.error_details}")
        # EndOfStream is the normal end after finish(); session_stopped follows either way.

    def _on_session_stopped(self, evt: speechsdk.SessionEventArgs) -> None:
        self._call_soon(self._stopped.set)

    def _call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the call is over, nobody listens
            self._loop.call_soon_threadsafe(callback, *args)

    # --- event loop

    def _settle(self, text: str) -> None:
        self._finals.append(text)
        self._publish(Transcript(text=text, is_final=True))

    def _publish(self, transcript: Transcript) -> None:
        if not self._closed:
            self._partials.put_nowait(transcript)

    def _fail(self, error: str) -> None:
        self._error = error
        self._stopped.set()


def _dispose_in(executor: Executor, session: _Recognizer) -> None:
    """Stopping waits on the SDK: leave it to a worker thread, nobody needs the outcome."""
    try:
        executor.submit(_dispose, session).add_done_callback(_log_dispose_failure)
    except RuntimeError:  # the provider's executor is shut down: the SDK releases it when collected
        pass


def _dispose(session: _Recognizer) -> None:
    """Stop recognition and drop the SDK's references to our handlers (blocking)."""
    recognizer = session.recognizer
    for event in (recognizer.recognizing, recognizer.recognized, recognizer.canceled, recognizer.session_stopped):
        event.disconnect_all()
    # Returns at once after a normal end; after a lost session the SDK waits out its own timeout (~10 s),
    # which is why this runs on the provider's worker threads and never on the loop's default executor.
    recognizer.stop_continuous_recognition_async().get()
    with contextlib.suppress(RuntimeError):  # the SDK refuses if the connection is already gone
        session.connection.close()


def _log_dispose_failure(done: Future[None]) -> None:
    if not done.cancelled() and (exc := done.exception()) is not None:
        logger.warning("could not stop an Azure recognizer cleanly: %s", exc)
