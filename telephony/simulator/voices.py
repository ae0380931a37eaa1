"""Caller voices for the simulator (implementations of :class:`telephony.simulator.script.CallerVoice`)."""

from __future__ import annotations

import asyncio
import shutil

from agent.interfaces import TextToSpeech
from telephony.audio import AudioFormatError, decode_wav, ulaw_to_pcm16


class VoiceUnavailable(RuntimeError):
    """The synthesizer is missing or failed."""


class EspeakNgVoice:
    """espeak-ng in a subprocess (``espeak-ng --stdout``), its 22.05 kHz WAV resampled to 8 kHz PCM16.

    Each line runs in its own short-lived process, so many calls can synthesize concurrently without threads.
    """

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 165, executable: str = "espeak-ng") -> None:
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.executable = executable

    @staticmethod
    def available(executable: str = "espeak-ng") -> bool:
        return shutil.which(executable) is not None

    async def synthesize(self, text: str) -> bytes:
        try:
            process = await asyncio.create_subprocess_exec(
                self.executable,
                "--stdout",
                "--stdin",  # text on stdin: a line starting with '-' is never taken for an option
                "-v",
                self.voice,
                "-s",
                str(self.words_per_minute),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise VoiceUnavailable(f"cannot run {self.executable}: {exc}") from exc
        wav, err = await process.communicate(text.encode())
        if process.returncode != 0:
            message = err.decode(errors="replace").strip()[:200]
            raise VoiceUnavailable(f"{self.executable} exited with {process.returncode}: {message}")
        try:
            return decode_wav(wav)
        except AudioFormatError as exc:
            raise VoiceUnavailable(f"{self.executable} produced unreadable audio") from exc


class TextToSpeechVoice:
    """Any agent voice (``agent.TextToSpeech``, e.g. the local Piper voice) speaking the caller's lines."""

    def __init__(self, tts: TextToSpeech) -> None:
        self._tts = tts

    async def synthesize(self, text: str) -> bytes:
        try:
            ulaw = b"".join([chunk async for chunk in self._tts.synthesize(text)])
        except Exception as exc:
            raise VoiceUnavailable(f"{self._tts.name} could not speak the line: {exc}") from exc
        return ulaw_to_pcm16(ulaw)
