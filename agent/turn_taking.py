"""Turn-taking: when the caller starts and stops talking, from their PCM audio alone.

A pure state machine fed audio of any size; it re-frames internally into 10, 20 or 30 ms frames for
webrtcvad and emits two events:

* :class:`SpeechStarted` once the caller has produced ``min_speech_ms`` of voiced audio (coughs, clicks and
  other short bursts never get there); it carries the pre-roll so the recognizer hears the start of speech,
  and it is the barge-in signal;
* :class:`SpeechEnded` after ``endpoint_silence_ms`` of silence following speech, with the whole utterance.

webrtcvad alone calls any loud stationary sound speech (fans, hum, line noise), so a frame only counts
towards an onset when it is also well above a running estimate of the noise floor. The floor falls quickly
and rises slowly, so it settles on steady background noise but not on speech, which has dips between
syllables and words.

Timings are in audio time: milliseconds of audio fed since the detector was created.
Per frame the cost is one webrtcvad call, one RMS and a few comparisons; nothing is allocated unless the
caller is (possibly) speaking.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import webrtcvad

from agent.audio import PCM_BYTES_PER_MS, audioop
from agent.interfaces import SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """Tuning of turn-taking; the defaults suit telephone speech."""

    frame_ms: int = 20
    aggressiveness: int = 2
    """webrtcvad mode, 0 (least) to 3 (most aggressive in calling audio non-speech)."""
    min_speech_ms: int = 200
    """Voiced audio needed before speech counts as a turn or a barge-in."""
    onset_gap_ms: int = 100
    """Unvoiced audio tolerated inside a not-yet-confirmed onset before it is dropped."""
    endpoint_silence_ms: int = 400
    """Silence after speech that ends the caller's turn."""
    pre_roll_ms: int = 300
    """Audio kept from before the onset and handed to the recognizer."""
    max_utterance_ms: int = 30_000
    """An utterance is cut here even without silence, bounding memory."""
    min_rms: int = 100
    """Frames quieter than this (about -50 dBFS) are never speech."""
    onset_floor_ratio: float = 3.0
    """An onset frame must be this many times louder than the noise floor (about 9.5 dB)."""
    continue_floor_ratio: float = 2.0
    """Inside speech, a frame counts as voiced at this ratio over the floor (about 6 dB)."""
    floor_rise_db_per_s: float = 20.0
    """How fast the floor follows louder audio while the caller is quiet."""
    floor_rise_in_speech_db_per_s: float = 4.0
    """How fast it follows while an onset or speech is under way, so speech does not hide itself."""
    floor_fall_per_frame: float = 0.5
    """Fraction of the distance to a quieter frame the floor moves down each frame."""

    def __post_init__(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise ValueError("webrtcvad needs 10, 20 or 30 ms frames")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError("aggressiveness is 0..3")
        if self.min_speech_ms < self.frame_ms or self.endpoint_silence_ms < self.frame_ms:
            raise ValueError("min_speech_ms and endpoint_silence_ms must cover at least one frame")


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    onset_ms: int
    """Audio time of the first voiced frame."""
    detected_ms: int
    """Audio time at which the onset was confirmed (onset plus at least ``min_speech_ms``)."""
    audio: bytes
    """Pre-roll and all speech so far, up to the end of the audio just fed (the recognizer's first input)."""


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    onset_ms: int
    speech_end_ms: int
    """Audio time at which the last voiced frame ended."""
    endpoint_ms: int
    """Audio time at which the silence was long enough to end the turn."""
    voiced_ms: int
    audio: bytes
    """The whole utterance from the start of the pre-roll to the endpoint."""
    truncated: bool = False
    """True when cut at ``max_utterance_ms`` rather than by silence."""

    @property
    def endpointing_ms(self) -> int:
        """How long the detector waited after speech before ending the turn."""
        return self.endpoint_ms - self.speech_end_ms


TurnEvent = SpeechStarted | SpeechEnded

_NO_EVENTS: tuple[TurnEvent, ...] = ()


class _State(Enum):
    QUIET = 0
    ONSET = 1
    SPEAKING = 2


class _RingBuffer:
    """The last ``size`` bytes written, without allocating per write."""

    def __init__(self, size: int) -> None:
        self._buf = bytearray(size)
        self._size = size
        self._pos = 0
        self._filled = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if self._size == 0:
            return
        if n >= self._size:
            self._buf[:] = data[n - self._size :]
            self._pos = 0
            self._filled = self._size
            return
        end = self._pos + n
        if end <= self._size:
            self._buf[self._pos : end] = data
        else:
            first = self._size - self._pos
            self._buf[self._pos :] = data[:first]
            self._buf[: n - first] = data[first:]
        self._pos = end % self._size
        self._filled = min(self._size, self._filled + n)

    def read(self) -> bytes:
        if self._filled < self._size:
            return bytes(self._buf[self._pos - self._filled : self._pos])
        return bytes(self._buf[self._pos :] + self._buf[: self._pos])

    def clear(self) -> None:
        self._pos = 0
        self._filled = 0


class TurnDetector:
    """Voice activity, onset and endpoint detection over one caller's audio stream."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = cfg = config or TurnConfig()
        self._vad = webrtcvad.Vad(cfg.aggressiveness)
        self._frame_bytes = cfg.frame_ms * PCM_BYTES_PER_MS
        self._pending = bytearray()
        self._ring = _RingBuffer(cfg.pre_roll_ms * PCM_BYTES_PER_MS)
        self._utterance = bytearray()
        self._state = _State.QUIET
        self._now_ms = 0
        self._onset_ms = 0
        self._voiced_ms = 0
        self._gap_ms = 0
        self._last_voiced_end_ms = 0
        self._floor = float(cfg.min_rms)
        self._floor_initialised = False
        self._floor_min = cfg.min_rms / cfg.onset_floor_ratio
        self._rise_quiet = 10 ** (cfg.floor_rise_db_per_s * cfg.frame_ms / 1000 / 20)
        self._rise_speech = 10 ** (cfg.floor_rise_in_speech_db_per_s * cfg.frame_ms / 1000 / 20)

    @property
    def in_speech(self) -> bool:
        """True from a confirmed onset until the endpoint."""
        return self._state is _State.SPEAKING

    @property
    def now_ms(self) -> int:
        """Audio time: milliseconds of complete frames processed."""
        return self._now_ms

    @property
    def silence_ms(self) -> int:
        """Audio time since the caller last produced voiced audio (0 while speaking)."""
        if self._state is not _State.QUIET:
            return 0
        return self._now_ms - self._last_voiced_end_ms

    def feed(self, pcm: bytes) -> tuple[TurnEvent, ...]:
        """Process caller audio (PCM16 8 kHz mono, any length); returns the events it caused, in order."""
        fb = self._frame_bytes
        if self._pending:
            self._pending += pcm
            view = memoryview(bytes(self._pending))
            usable = len(view) - len(view) % fb
            self._pending = bytearray(view[usable:])
        else:
            view = memoryview(pcm)
            usable = len(view) - len(view) % fb
            if usable < len(view):
                self._pending = bytearray(view[usable:])
        events: list[TurnEvent] | None = None
        started: SpeechStarted | None = None
        for start in range(0, usable, fb):
            event = self._frame(view[start : start + fb])
            if event is None:
                continue
            if events is None:
                events = []
            if isinstance(event, SpeechStarted):
                started = event
            events.append(event)
        if events is None:
            return _NO_EVENTS
        if started is not None:
            events[events.index(started)] = self._with_audio(started, events)
        return tuple(events)

    def _with_audio(self, started: SpeechStarted, events: list[TurnEvent]) -> SpeechStarted:
        # The recognizer is fed every later input as it arrives, so the onset event carries all audio up to
        # the end of this input, including the partial frame still waiting to be classified; if the same
        # input also ended the utterance, it carries the whole utterance.
        ended = [e for e in events[events.index(started) :] if isinstance(e, SpeechEnded)]
        audio = ended[0].audio if ended else bytes(self._utterance) + bytes(self._pending)
        return SpeechStarted(started.onset_ms, started.detected_ms, audio)

    def reset(self) -> None:
        """Forget any speech in progress (e.g. the call has moved on); the noise floor is kept."""
        self._state = _State.QUIET
        self._utterance = bytearray()
        self._pending = bytearray()
        self._ring.clear()

    def _frame(self, frame: memoryview) -> TurnEvent | None:
        cfg = self.config
        fm = cfg.frame_ms
        rms = audioop.rms(frame, 2)
        floor = self._track_floor(rms)
        now = self._now_ms
        self._now_ms = now + fm
        state = self._state

        if state is _State.QUIET:
            if self._voiced(frame, rms, floor * cfg.onset_floor_ratio):
                self._state = _State.ONSET
                self._onset_ms = now
                self._voiced_ms = fm
                self._gap_ms = 0
                self._utterance = bytearray(self._ring.read())
                self._utterance += frame
                return self._confirm_onset()
            self._ring.write(frame)
            return None

        self._utterance += frame
        if state is _State.ONSET:
            if self._voiced(frame, rms, floor * cfg.onset_floor_ratio):
                self._voiced_ms += fm
                self._gap_ms = 0
                return self._confirm_onset()
            self._gap_ms += fm
            if self._gap_ms > cfg.onset_gap_ms:
                self._state = _State.QUIET
                self._ring.write(self._utterance)
                self._utterance = bytearray()
            return None

        if self._voiced(frame, rms, floor * cfg.continue_floor_ratio):
            self._voiced_ms += fm
            self._last_voiced_end_ms = now + fm
        elif self._now_ms - self._last_voiced_end_ms >= cfg.endpoint_silence_ms:
            return self._end(truncated=False)
        if self._now_ms - self._onset_ms >= cfg.max_utterance_ms:
            return self._end(truncated=True)
        return None

    def _voiced(self, frame: memoryview, rms: int, threshold: float) -> bool:
        if rms < self.config.min_rms or rms < threshold:
            return False
        return bool(self._vad.is_speech(frame, SAMPLE_RATE))

    def _track_floor(self, rms: int) -> float:
        """Update the noise floor with this frame's RMS and return the floor it is judged against."""
        floor = self._floor
        if not self._floor_initialised:
            self._floor_initialised = True
            self._floor = max(float(rms), float(self.config.min_rms))
            return self._floor
        if rms < floor:
            self._floor = max(floor + (rms - floor) * self.config.floor_fall_per_frame, self._floor_min)
        else:
            rise = self._rise_quiet if self._state is _State.QUIET else self._rise_speech
            self._floor = min(floor * rise, float(rms))
        return floor

    def _confirm_onset(self) -> SpeechStarted | None:
        if self._voiced_ms < self.config.min_speech_ms:
            return None
        self._state = _State.SPEAKING
        self._last_voiced_end_ms = self._now_ms
        return SpeechStarted(self._onset_ms, self._now_ms, b"")

    def _end(self, *, truncated: bool) -> SpeechEnded:
        event = SpeechEnded(
            onset_ms=self._onset_ms,
            speech_end_ms=self._last_voiced_end_ms,
            endpoint_ms=self._now_ms,
            voiced_ms=self._voiced_ms,
            audio=bytes(self._utterance),
            truncated=truncated,
        )
        self._state = _State.QUIET
        self._ring.clear()
        self._utterance = bytearray()
        return event
