from __future__ import annotations

import time

import numpy as np
import pytest

from agent.turn_taking import SpeechEnded, SpeechStarted, TurnConfig, TurnDetector, TurnEvent
from tests.agent.audio_samples import SpeechFactory, cough_like, mix, noise, silence, trim

SENTENCE = "Hi, I want to sell my condo in Austin next spring."


def run(audio: bytes, *, chunk: int = 320, config: TurnConfig | None = None) -> list[TurnEvent]:
    detector = TurnDetector(config)
    events: list[TurnEvent] = []
    for i in range(0, len(audio), chunk):
        events.extend(detector.feed(audio[i : i + chunk]))
    return events


def speech_bounds_ms(pcm: bytes, *, threshold: int = 300) -> tuple[int, int]:
    """Where the speech in an espeak clip really starts and ends (first and last loud sample)."""
    samples = np.abs(np.frombuffer(pcm, "<i2"))
    loud = np.nonzero(samples > threshold)[0]
    return int(loud[0]) // 8, int(loud[-1]) // 8


def test_one_utterance_between_silences_is_one_turn(speech: SpeechFactory) -> None:
    words = speech(SENTENCE)
    lead = 1000
    start_ms, end_ms = speech_bounds_ms(words)
    events = run(silence(lead) + words + silence(1000))

    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    started, ended = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, SpeechEnded)
    assert abs(started.onset_ms - (lead + start_ms)) <= 60
    assert started.detected_ms - started.onset_ms >= TurnConfig().min_speech_ms
    assert abs(ended.speech_end_ms - (lead + end_ms)) <= 120
    assert ended.endpointing_ms == TurnConfig().endpoint_silence_ms
    assert not ended.truncated


def test_utterance_audio_keeps_the_pre_roll(speech: SpeechFactory) -> None:
    words = speech(SENTENCE)
    config = TurnConfig()
    events = run(silence(1000) + words + silence(1000), config=config)
    started, ended = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, SpeechEnded)

    pre_roll = config.pre_roll_ms * 16
    # everything from the start of the pre-roll to the end of the input that confirmed the onset
    assert len(started.audio) == pre_roll + (started.detected_ms - started.onset_ms) * 16
    assert len(ended.audio) == pre_roll + (ended.endpoint_ms - ended.onset_ms) * 16
    assert ended.audio.startswith(started.audio)
    assert started.audio[:pre_roll] == silence(config.pre_roll_ms)


def test_onset_audio_covers_the_whole_input_when_inputs_are_large(speech: SpeechFactory) -> None:
    """The recognizer gets every later input raw, so the onset event must include all of this input."""
    words = speech(SENTENCE)
    audio = silence(1000) + words + silence(1000)
    detector = TurnDetector()
    fed = 0
    for i in range(0, len(audio), 4000):
        piece = audio[i : i + 4000]
        events = detector.feed(piece)
        fed += len(piece)
        started = [e for e in events if isinstance(e, SpeechStarted)]
        if started:
            onset_input_start = started[0].onset_ms * 16 - TurnConfig().pre_roll_ms * 16
            assert len(started[0].audio) == fed - onset_input_start
            assert audio[onset_input_start:fed] == started[0].audio
            return
    pytest.fail("no onset")


@pytest.mark.parametrize("chunk", [80, 160, 320, 333, 480, 1000, 4410])
def test_any_input_size_gives_the_same_turn(speech: SpeechFactory, chunk: int) -> None:
    audio = silence(800) + speech(SENTENCE) + silence(900)
    reference = run(audio)
    events = run(audio, chunk=chunk)
    assert [(type(e), e.onset_ms) for e in events] == [(type(e), e.onset_ms) for e in reference]
    assert events[-1] == reference[-1]


def test_a_pause_shorter_than_the_endpoint_does_not_end_the_turn(speech: SpeechFactory) -> None:
    first, second = trim(speech("I want to buy")), trim(speech("a house in Dallas"))
    audio = silence(500) + first + silence(250) + second + silence(800)
    events = run(audio)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]


def test_two_utterances_are_two_turns(speech: SpeechFactory) -> None:
    audio = silence(500) + speech("Yes.") + silence(1200) + speech("Tomorrow at three") + silence(800)
    events = run(audio)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded, SpeechStarted, SpeechEnded]
    assert events[2].onset_ms > events[1].endpoint_ms  # type: ignore[union-attr]


def test_endpoint_silence_is_configurable(speech: SpeechFactory) -> None:
    audio = silence(500) + speech(SENTENCE) + silence(1500)
    ended = run(audio, config=TurnConfig(endpoint_silence_ms=700))[-1]
    assert isinstance(ended, SpeechEnded)
    assert ended.endpointing_ms == 700


def test_speech_in_light_background_noise_is_found(speech: SpeechFactory) -> None:
    words = silence(1500) + speech(SENTENCE) + silence(1000)
    events = run(mix(words, noise(len(words) // 16, amplitude=300)))
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(silence(5000), id="digital silence"),
        pytest.param(noise(5000, amplitude=200), id="line hiss"),
        pytest.param(noise(5000, amplitude=3000), id="loud white noise"),
        pytest.param(noise(5000, amplitude=4000, smooth=6), id="fan rumble"),
        pytest.param(
            bytes((3000 * np.sin(2 * np.pi * 60 * np.arange(40_000) / 8000)).astype("<i2").tobytes()), id="mains hum"
        ),
    ],
)
def test_steady_noise_is_not_a_turn(audio: bytes) -> None:
    assert run(audio) == []


@pytest.mark.parametrize("burst_ms", [60, 120, 180])
def test_short_bursts_do_not_count(burst_ms: int) -> None:
    audio = silence(600) + cough_like(burst_ms, seed=1) + silence(400) + cough_like(burst_ms, seed=2) + silence(800)
    assert run(audio) == []


def test_a_short_word_below_the_minimum_does_not_count(speech: SpeechFactory) -> None:
    word = speech("Hm.")
    config = TurnConfig(min_speech_ms=max(400, len(word) // 16 + 100))
    assert run(silence(500) + word + silence(800), config=config) == []


def test_long_speech_is_cut_at_the_maximum(speech: SpeechFactory) -> None:
    words = speech("I have been thinking about selling my house for a very long time now, years really.")
    events = run(silence(300) + words, config=TurnConfig(max_utterance_ms=1500))
    ended = next(e for e in events if isinstance(e, SpeechEnded))
    assert ended.truncated
    assert ended.endpoint_ms - ended.onset_ms == 1500


def test_in_speech_and_silence_state(speech: SpeechFactory) -> None:
    detector = TurnDetector()
    detector.feed(silence(500))
    assert not detector.in_speech
    detector.feed(speech(SENTENCE)[:16_000])
    assert detector.in_speech
    assert detector.silence_ms == 0
    detector.feed(silence(1000))
    assert not detector.in_speech
    assert detector.silence_ms >= 1000


@pytest.mark.parametrize("frame_ms", [10, 30])
def test_other_frame_sizes(speech: SpeechFactory, frame_ms: int) -> None:
    events = run(silence(600) + speech(SENTENCE) + silence(900), config=TurnConfig(frame_ms=frame_ms))
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        TurnConfig(frame_ms=25)
    with pytest.raises(ValueError):
        TurnConfig(aggressiveness=4)


def test_cost_per_frame_is_small(speech: SpeechFactory) -> None:
    audio = (silence(300) + speech(SENTENCE) + silence(700)) * 10
    frames = len(audio) // 320
    detector = TurnDetector()
    started = time.perf_counter()
    for i in range(0, len(audio), 320):
        detector.feed(audio[i : i + 320])
    per_frame_us = (time.perf_counter() - started) / frames * 1e6
    assert per_frame_us < 200  # measured around 10 us; a 20 ms frame budget is 20 000 us
