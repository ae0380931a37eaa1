"""The Azure adapter with the real Speech SDK (its threads, its event objects) against a local service double."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from http import HTTPStatus

import numpy as np
import pytest

from agent.audio import audioop
from agent.interfaces import ProviderError, Transcript
from agent.providers.azure_stt import AzureRecognitionStream, AzureSpeechSTT

from .azure_speech_double import AzureSpeechDouble, running

MULAW_FORMAT_TAG = 7
KEY = "azure-test-key"


@pytest.fixture
async def double() -> AsyncIterator[AzureSpeechDouble]:
    async with running(AzureSpeechDouble(hypotheses=["i want to"], finals=["I want to sell my condo."])) as d:
        yield d


@pytest.fixture
async def stt(double: AzureSpeechDouble) -> AsyncIterator[AzureSpeechSTT]:
    provider = AzureSpeechSTT(key=KEY, host=double.url, final_timeout=5.0)
    yield provider
    await provider.aclose()


def speech_like_pcm(seconds: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (6000 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)).astype("<i2").tobytes()


async def feed_in_frames(stream: AzureRecognitionStream, pcm: bytes) -> None:
    for start in range(0, len(pcm), 320):
        stream.feed(pcm[start : start + 320])
        await asyncio.sleep(0.001)


async def test_warm_up_connects_before_the_first_caller(double: AzureSpeechDouble, stt: AzureSpeechSTT):
    await stt.warm_up()
    await stt.warm_up()

    await double.wait_for_handshakes(1)
    handshake = double.handshakes[0]
    assert handshake.headers["Ocp-Apim-Subscription-Key"] == KEY
    assert handshake.path.startswith("/speech/recognition/conversation/cognitiveservices/v1?")
    assert "language=en-US" in handshake.path
    await asyncio.sleep(0.2)
    assert len(double.handshakes) == 1  # the second warm_up found the recognizer already connected
    assert double.audio == b""


async def test_utterance_streams_mu_law_and_returns_the_final_text(double: AzureSpeechDouble, stt: AzureSpeechSTT):
    await stt.warm_up()
    await double.wait_for_handshakes(1)
    pcm = speech_like_pcm(1.0)

    stream = stt.start(language="en-US")
    partials: list[Transcript] = []

    async def collect() -> None:
        async for partial in stream.partials():
            partials.append(partial)

    collector = asyncio.create_task(collect())
    await feed_in_frames(stream, pcm)
    text = await stream.finish()
    await collector

    assert text == "I want to sell my condo."
    assert Transcript(text="i want to", is_final=False) in partials
    assert partials[-1] == Transcript(text="I want to sell my condo.", is_final=True)
    (wave,) = double.wave_formats
    assert (wave.format_tag, wave.sample_rate, wave.bits_per_sample, wave.channels) == (MULAW_FORMAT_TAG, 8000, 8, 1)
    assert bytes(double.audio) == audioop.lin2ulaw(pcm, 2)  # every byte, re-encoded to mu-law
    # The utterance ran on the pre-connected recognizer; a replacement connects for the next one.
    await double.wait_for_handshakes(2)


async def test_settled_segments_are_joined_in_order(double: AzureSpeechDouble, stt: AzureSpeechSTT):
    double.finals = ["Hi, this is Dana.", "I want to sell my condo."]
    stream = stt.start(language="en-US")

    await feed_in_frames(stream, speech_like_pcm(0.5))

    assert await stream.finish() == "Hi, this is Dana. I want to sell my condo."


async def test_language_reaches_the_service(double: AzureSpeechDouble, stt: AzureSpeechSTT):
    stream = stt.start(language="es-MX")
    await feed_in_frames(stream, speech_like_pcm(0.3))
    await stream.finish()

    assert any("language=es-MX" in handshake.path for handshake in double.handshakes)


async def test_no_final_result_in_time_is_a_provider_error(double: AzureSpeechDouble):
    double.finalize = False
    stt = AzureSpeechSTT(key=KEY, host=double.url, final_timeout=0.5)
    stream = stt.start(language="en-US")
    await feed_in_frames(stream, speech_like_pcm(0.3))

    with pytest.raises(ProviderError, match="no final result"):
        await stream.finish()
    await stt.aclose()


async def test_rejected_key_is_a_provider_error():
    async with running(AzureSpeechDouble(reject_status=HTTPStatus.UNAUTHORIZED)) as double:
        stt = AzureSpeechSTT(key="wrong", host=double.url, final_timeout=5.0)
        stream = stt.start(language="en-US")
        await feed_in_frames(stream, speech_like_pcm(0.2))

        with pytest.raises(ProviderError, match="Azure recognition failed"):
            await stream.finish()
        await stt.aclose()


async def test_abandoned_utterance_stops_quietly(double: AzureSpeechDouble, stt: AzureSpeechSTT):
    stream = stt.start(language="en-US")
    await feed_in_frames(stream, speech_like_pcm(0.2))

    await stream.aclose()
    stream.feed(b"\x00\x00" * 160)
    await stream.aclose()

    assert await stream.finish() == ""
    assert [partial async for partial in stream.partials()] == []
