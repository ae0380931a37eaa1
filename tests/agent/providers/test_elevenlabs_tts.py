"""ElevenLabs streaming text-to-speech, against its documented HTTP shape (respx)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import pytest
import respx

from agent.interfaces import ProviderError
from agent.providers.elevenlabs_tts import ElevenLabsTTS

BASE = "https://api.elevenlabs.test"
KEY = "xi-test-key-0123"
VOICE = "21m00Tcm4TlvDq8ikWAM"
STREAM_URL = f"{BASE}/v1/text-to-speech/{VOICE}/stream"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def tts(client: httpx.AsyncClient, **overrides) -> ElevenLabsTTS:
    return ElevenLabsTTS(client=client, api_key=KEY, voice_id=VOICE, base_url=BASE, **overrides)


class AudioStream(httpx.AsyncByteStream):
    """A response body arriving in separate chunks, as a streamed HTTP response does; an exception among the
    chunks is raised there (the connection failing mid-answer), an event waited for (the server pausing)."""

    def __init__(self, *chunks: bytes | Exception | asyncio.Event) -> None:
        self._chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._chunks:
            if isinstance(piece, asyncio.Event):
                await piece.wait()
            elif isinstance(piece, Exception):
                raise piece
            else:
                yield piece

    async def aclose(self) -> None:
        self.closed = True


@respx.mock
async def test_streams_mu_law_bytes_as_they_arrive(client: httpx.AsyncClient):
    chunks = [b"\xff" * 160, b"\x7f\x80" * 400, b"\x00" * 3]
    route = respx.post(STREAM_URL).mock(
        return_value=httpx.Response(200, headers={"content-type": "audio/basic"}, stream=AudioStream(*chunks))
    )
    provider = tts(client, voice_settings={"stability": 0.5, "similarity_boost": 0.75})

    received = [chunk async for chunk in provider.synthesize("Thanks for calling Sunrise Realty.")]

    assert b"".join(received) == b"".join(chunks)
    request = route.calls.last.request
    assert request.url.params["output_format"] == "ulaw_8000"
    assert request.headers["xi-api-key"] == KEY
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "text": "Thanks for calling Sunrise Realty.",
        "model_id": "eleven_flash_v2_5",
        "voice_settings": {"stability": 0.5, "similarity_boost": 0.75},
    }
    assert (provider.name, provider.voice) == ("elevenlabs", VOICE)


@respx.mock
async def test_minimal_body_without_voice_settings(client: httpx.AsyncClient):
    route = respx.post(STREAM_URL).mock(return_value=httpx.Response(200, content=b"\xff" * 80))

    assert [chunk async for chunk in tts(client, model_id="eleven_turbo_v2_5").synthesize("Hi.")] == [b"\xff" * 80]
    assert json.loads(route.calls.last.request.content) == {"text": "Hi.", "model_id": "eleven_turbo_v2_5"}


@respx.mock
async def test_blank_text_sends_nothing(client: httpx.AsyncClient):
    route = respx.post(STREAM_URL)

    assert [chunk async for chunk in tts(client).synthesize("   ")] == []
    assert not route.called


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, "401: Invalid API key"),
        (429, {"detail": {"status": "too_many_concurrent_requests", "message": "Too many requests"}}, "429"),
        (422, {"detail": [{"loc": ["body", "text"], "msg": "field required"}]}, "422"),
        (500, {"detail": {"status": "internal_server_error", "message": "Server error"}}, "500: Server error"),
        (503, None, "503"),
    ],
)
@respx.mock
async def test_error_statuses_are_provider_errors(client: httpx.AsyncClient, caplog, status, body, message):
    response = httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="upstream down")
    respx.post(STREAM_URL).mock(return_value=response)

    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError, match=message) as caught:
        [chunk async for chunk in tts(client).synthesize("Hello.")]
    assert KEY not in str(caught.value) and KEY not in caplog.text


@respx.mock
async def test_timeouts_and_connection_failures_are_provider_errors(client: httpx.AsyncClient):
    respx.post(STREAM_URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])

    with pytest.raises(ProviderError, match="timed out"):
        [chunk async for chunk in tts(client).synthesize("Hello.")]
    with pytest.raises(ProviderError, match="ConnectError"):
        [chunk async for chunk in tts(client).synthesize("Hello.")]


@respx.mock
async def test_connecting_has_a_shorter_limit_than_reading(client: httpx.AsyncClient):
    route = respx.post(STREAM_URL).mock(return_value=httpx.Response(200, content=b"\xff" * 160))

    [chunk async for chunk in tts(client).synthesize("Hello.")]
    assert route.calls.last.request.extensions["timeout"] == {"connect": 3.0, "read": 10.0, "write": 10.0,
                                                              "pool": 10.0}  # fmt: skip


@respx.mock
async def test_each_frame_is_passed_on_before_the_rest_is_generated(client: httpx.AsyncClient):
    """The first 20 ms frame reaches the call while the server is still generating the next."""
    generating = asyncio.Event()
    body = AudioStream(b"\x11" * 160, generating, b"\x22" * 320)
    respx.post(STREAM_URL).mock(return_value=httpx.Response(200, stream=body))
    audio = tts(client).synthesize("Hello.")

    first = await asyncio.wait_for(anext(audio), timeout=10)  # a guard against a hang, not a measurement
    generating.set()
    rest = [chunk async for chunk in audio]

    assert first == b"\x11" * 160
    assert b"".join(rest) == b"\x22" * 320


@respx.mock
async def test_an_abandoned_answer_is_closed_at_once(client: httpx.AsyncClient):
    body = AudioStream(b"\x11" * 160, asyncio.Event(), b"\x22" * 160)  # the second frame never comes
    respx.post(STREAM_URL).mock(return_value=httpx.Response(200, stream=body))
    audio = tts(client).synthesize("Hello.")
    assert isinstance(audio, AsyncGenerator)

    assert await asyncio.wait_for(anext(audio), timeout=10) == b"\x11" * 160  # guarded against a hang
    await audio.aclose()
    assert body.closed


@respx.mock
async def test_a_stream_failing_midway_is_a_provider_error_after_the_audio_so_far(client: httpx.AsyncClient):
    respx.post(STREAM_URL).mock(
        side_effect=[
            httpx.Response(200, stream=AudioStream(b"\x11" * 160, httpx.ReadTimeout("stalled"))),
            httpx.Response(200, stream=AudioStream(b"\x11" * 160, httpx.RemoteProtocolError("peer closed"))),
        ]
    )
    received: list[bytes] = []

    for expected in ("timed out", "RemoteProtocolError"):
        with pytest.raises(ProviderError, match=expected):
            async for chunk in tts(client).synthesize("Hello."):
                received.append(chunk)
    assert received == [b"\x11" * 160] * 2
