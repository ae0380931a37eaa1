"""ElevenLabs streaming text-to-speech, against its documented HTTP shape (respx)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

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
    """A response body arriving in separate chunks, as a streamed HTTP response does."""

    def __init__(self, *chunks: bytes) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._chunks:
            yield piece


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
        (503, None, "503"),
    ],
)
@respx.mock
async def test_error_statuses_are_provider_errors(client: httpx.AsyncClient, status, body, message):
    response = httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="upstream down")
    respx.post(STREAM_URL).mock(return_value=response)

    with pytest.raises(ProviderError, match=message) as caught:
        [chunk async for chunk in tts(client).synthesize("Hello.")]
    assert KEY not in str(caught.value)


@respx.mock
async def test_timeouts_and_connection_failures_are_provider_errors(client: httpx.AsyncClient):
    respx.post(STREAM_URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])

    with pytest.raises(ProviderError, match="timed out"):
        [chunk async for chunk in tts(client).synthesize("Hello.")]
    with pytest.raises(ProviderError, match="ConnectError"):
        [chunk async for chunk in tts(client).synthesize("Hello.")]
