"""The local recognizer, on real speech: the Piper voice and espeak-ng through the telephone's mu-law codec."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from agent.audio import audioop
from agent.interfaces import Transcript
from agent.providers.piper_tts import PiperTTS
from agent.providers.whisper_model import ModelLoadError, default_model_dir, drop_repeats
from agent.providers.whisper_stt import WhisperSTT
from telephony.audio import pcm16_to_ulaw, ulaw_to_pcm16
from telephony.simulator import EspeakNgVoice
from tests.agent.audio_samples import noise, silence

FRAME = 320  # 20 ms of PCM16 at 8 kHz, as the transport delivers it


async def piper_caller(tts: PiperTTS, text: str) -> bytes:
    """What the agent receives when a caller says ``text``: mu-law 8 kHz off the phone, decoded to PCM16."""
    ulaw = b"".join([chunk async for chunk in tts.synthesize(text)])
    return audioop.ulaw2lin(ulaw, 2)


async def espeak_caller(text: str, *, voice: str = "en-us", wpm: int = 165) -> bytes:
    """espeak-ng's speech through the telephone's mu-law and back, as the media stream hands it to the agent."""
    pcm = await EspeakNgVoice(voice=voice, words_per_minute=wpm).synthesize(text)
    return ulaw_to_pcm16(pcm16_to_ulaw(pcm))


async def recognize(stt: WhisperSTT, pcm: bytes, *, places: tuple[str, ...] = ()) -> tuple[str, list[Transcript]]:
    """Feed ``pcm`` frame by frame as a call does: the turn detector's pre-roll first, its endpoint silence last."""
    stream = stt.for_places(places).start(language="en-US")
    partials: list[Transcript] = []

    async def collect() -> None:
        async for partial in stream.partials():
            partials.append(partial)

    collector = asyncio.create_task(collect())
    audio = silence(300) + pcm + silence(400)
    for start in range(0, len(audio), FRAME):
        stream.feed(audio[start : start + FRAME])
        await asyncio.sleep(0.002)
    text = await stream.finish()
    await collector
    return text, partials


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Hi, I want to sell my condo in Austin next spring.", "i want to sell my condo in austin next spring"),
        ("Please stop calling me and take me off your list.", "stop calling me and take me off your list"),
        ("We need to rent an apartment for two thousand a month.", "rent an apartment for two thousand a month"),
    ],
)
async def test_domain_lines_in_the_local_voice(piper_tts: PiperTTS, whisper_stt: WhisperSTT, line: str, expected: str):
    text, _ = await recognize(whisper_stt, await piper_caller(piper_tts, line), places=("Austin",))

    assert expected in words(text)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("I want to sell my condo in Austin next spring.", "sell my condo in austin next spring"),
        ("Please stop calling me and take me off your list.", "take me off your list"),
        ("Can I talk to a real person?", "can i talk to a real person"),
    ],
)
async def test_domain_lines_in_espeak(whisper_stt: WhisperSTT, line: str, expected: str):
    text, _ = await recognize(whisper_stt, await espeak_caller(line), places=("Austin",))

    assert expected in words(text)


async def test_the_organizations_places_are_heard(piper_tts: PiperTTS, whisper_stt: WhisperSTT):
    pcm = await piper_caller(piper_tts, "I'm an investor looking at duplexes in Pflugerville.")

    text, _ = await recognize(whisper_stt, pcm, places=("Round Rock", "Pflugerville"))

    assert "pflugerville" in words(text)


async def test_partials_arrive_while_the_caller_speaks(piper_tts: PiperTTS, whisper_stt: WhisperSTT):
    pcm = await piper_caller(piper_tts, "We are looking to buy a three bedroom house. We are pre-approved.")

    text, partials = await recognize(whisper_stt, pcm)

    assert "three bedroom house" in words(text)
    assert partials and all(not partial.is_final for partial in partials)


async def test_silence_and_line_noise_give_an_empty_transcript(whisper_stt: WhisperSTT):
    assert await recognize(whisper_stt, silence(1000)) == ("", [])
    text, _ = await recognize(whisper_stt, noise(1500, amplitude=60))
    assert text == ""


async def test_decoding_runs_off_the_event_loop(whisper_stt: WhisperSTT):
    """A long utterance decodes for a while; the loop keeps serving other calls' frames meanwhile."""
    pcm = await espeak_caller(" ".join(["We want a four bedroom house near a good school."] * 6))
    stream = whisper_stt.start(language="en-US")
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    stream.feed(pcm)  # at once: no decode has covered any of it yet
    task = asyncio.create_task(ticker())
    text = await stream.finish()
    done.set()
    await task

    assert "four bedroom house" in words(text)
    assert ticks > 20


async def test_second_utterance_waits_for_the_only_worker(piper_tts: PiperTTS, whisper_stt: WhisperSTT):
    pcm = await piper_caller(piper_tts, "My budget is about five hundred thousand dollars.")

    first, second = await asyncio.gather(recognize(whisper_stt, pcm), recognize(whisper_stt, pcm))

    assert "budget" in words(first[0]) and "budget" in words(second[0])


async def test_abandoned_utterance_is_released(piper_tts: PiperTTS, whisper_stt: WhisperSTT):
    pcm = await piper_caller(piper_tts, "My budget is about five hundred thousand dollars.")
    abandoned = whisper_stt.start(language="en-US")
    abandoned.feed(pcm[: len(pcm) // 2 + 1])  # an odd byte count too
    await abandoned.aclose()
    await abandoned.aclose()

    assert await abandoned.finish() == ""
    text, _ = await recognize(whisper_stt, pcm)
    assert "budget" in words(text)


async def test_a_missing_model_is_refused_with_its_files_named(tmp_path: Path):
    stt = WhisperSTT(model_dir=tmp_path / "nowhere")

    with pytest.raises(ModelLoadError, match=r"no Whisper model in .*nowhere: missing model\.bin, config\.json"):
        await stt.warm_up()
    await stt.aclose()


async def test_a_broken_model_is_refused(tmp_path: Path):
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / name).write_bytes((default_model_dir() / name).read_bytes())
    (tmp_path / "model.bin").write_bytes(b"not a model")
    stt = WhisperSTT(model_dir=tmp_path)

    with pytest.raises(ModelLoadError, match="cannot load the Whisper model"):
        await stt.warm_up()
    await stt.aclose()


def test_a_repeated_sentence_is_dropped():
    assert drop_repeats("Can I talk to a person? Can I talk to a person? Can I talk") == "Can I talk to a person?"
    assert drop_repeats("Yes. I want to sell. Yes, in May.") == "Yes. I want to sell. Yes, in May."
