"""What the simulated caller does: a script of steps, with its speech rendered to mu-law before the call.

Speech is synthesized up front so that streaming in real time never waits for a synthesizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from telephony.audio import FRAME_MS, PCM16_FRAME_BYTES, SAMPLE_RATE, pcm16_to_ulaw, read_wav, rms

SPEECH_RMS_THRESHOLD = 300
"""PCM16 RMS above which a 20 ms frame counts as speech (room noise sits well below, speech well above)."""


class CallerVoice(Protocol):
    """Speaks the caller's lines (espeak-ng, a local neural voice, ...)."""

    async def synthesize(self, text: str) -> bytes:
        """Return ``text`` spoken as PCM16 mono at 8 kHz."""
        ...


@dataclass(frozen=True, slots=True)
class Utterance:
    """The caller says something; ``speech_start``/``speech_end`` locate the voice inside the audio (seconds)."""

    ulaw: bytes
    text: str
    speech_start: float
    speech_end: float

    @classmethod
    def from_pcm(cls, pcm: bytes, text: str = "", *, threshold: int = SPEECH_RMS_THRESHOLD) -> Utterance:
        start, end = _voiced_span(pcm, threshold)
        return cls(ulaw=pcm16_to_ulaw(pcm), text=text, speech_start=start, speech_end=end)

    @property
    def duration(self) -> float:
        return len(self.ulaw) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Silence:
    """The caller says nothing for a while (the line still carries silent frames, as Twilio's does)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Digits:
    """The caller presses keys, ``gap`` seconds apart."""

    digits: str
    gap: float = 0.2


@dataclass(frozen=True, slots=True)
class AwaitReply:
    """Wait until the agent has answered the caller's last words (or greeted, before any) and gone quiet for
    ``settle`` seconds of played-out silence; give up after ``timeout``."""

    timeout: float = 15.0
    settle: float = 0.6


@dataclass(frozen=True, slots=True)
class AwaitAgentAudio:
    """Wait until agent audio is playing (to barge in over it with the next steps); give up after ``timeout``."""

    timeout: float = 15.0


Step = Utterance | Silence | Digits | AwaitReply | AwaitAgentAudio


async def script_from_lines(
    lines: Iterable[str],
    voice: CallerVoice,
    *,
    wait_for_reply: bool = True,
    pause: float = 1.0,
    reply_timeout: float = 15.0,
    settle: float = 0.6,
) -> list[Step]:
    """Hear the greeting, then say each line; after each, wait for the agent's reply or just pause."""
    steps: list[Step] = [AwaitReply(timeout=reply_timeout, settle=settle)] if wait_for_reply else []
    for line in lines:
        if not line.strip():
            continue
        steps.append(Utterance.from_pcm(await voice.synthesize(line), line))
        steps.append(AwaitReply(timeout=reply_timeout, settle=settle) if wait_for_reply else Silence(pause))
    return steps


def script_from_wav(path: str | Path, *, wait_for_reply: bool = True, reply_timeout: float = 15.0) -> list[Step]:
    """Hear the greeting, play the WAV file as the caller's words, then hear the reply."""
    utterance = Utterance.from_pcm(read_wav(path), Path(path).name)
    if not wait_for_reply:
        return [utterance]
    return [AwaitReply(timeout=reply_timeout), utterance, AwaitReply(timeout=reply_timeout)]


def _voiced_span(pcm: bytes, threshold: int) -> tuple[float, float]:
    frames = len(pcm) // PCM16_FRAME_BYTES
    voiced = [i for i in range(frames) if rms(pcm[i * PCM16_FRAME_BYTES : (i + 1) * PCM16_FRAME_BYTES]) > threshold]
    if not voiced:
        return 0.0, len(pcm) / 2 / SAMPLE_RATE
    return voiced[0] * FRAME_MS / 1000, (voiced[-1] + 1) * FRAME_MS / 1000
