"""An inbound call in the cloud voice: the app configured with ``ELEVENLABS_BASE_URL`` pointing at a local double
of ElevenLabs' streaming endpoint, the caller hearing its mu-law bytes untouched on the media stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from seiketsu.app import create_app
from seiketsu.container import Container, build_container
from seiketsu.settings import Settings
from tests.conftest import fast_passwords, truncate
from tests.servers import serve
from tests.telephony.conftest import hang_up_after, voice_org

KEY = "xi-test-key-0123"
VOICE = "org-voice-7"
AUDIO_BYTE = b"\x2a"
"""Every byte the double answers with (a quiet mu-law level): neither silence nor the local voice."""


@dataclass
class ElevenLabsServer:
    """``POST /v1/text-to-speech/{voice_id}/stream``: ``ulaw_8000`` in 100 ms pieces, or the documented 401."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/text-to-speech/{voice_id}/stream", self._stream, methods=["POST"])])

    async def _stream(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"voice": request.path_params["voice_id"], "query": dict(request.query_params),
                              "key": request.headers.get("xi-api-key"), "body": body})  # fmt: skip
        if request.headers.get("xi-api-key") != KEY:
            detail = {"status": "invalid_api_key", "message": "Invalid API key"}
            return JSONResponse({"detail": detail}, status_code=401)
        return StreamingResponse(self._audio(len(body["text"]) * 480), media_type="audio/basic")

    async def _audio(self, size: int) -> AsyncIterator[bytes]:
        for start in range(0, size, 800):
            yield AUDIO_BYTE * min(800, size - start)


@pytest.fixture
def voice_server() -> ElevenLabsServer:
    return ElevenLabsServer()


@contextmanager
def cloud_container(settings: Settings, port: int, key: str) -> Iterator[Container]:
    container = build_container(
        replace(settings, elevenlabs_api_key=key, elevenlabs_base_url=f"http://127.0.0.1:{port}"),
        passwords=fast_passwords(),
    )
    try:
        yield container
    finally:
        truncate(container)
        container.close()


async def test_the_greeting_is_spoken_in_the_organizations_cloud_voice(
    settings: Settings, voice_server: ElevenLabsServer
) -> None:
    async with serve(voice_server.app()) as voice_port:
        with cloud_container(settings, voice_port, KEY) as container:
            voice_org(container, settings={"voice": VOICE})
            async with serve(create_app(container.settings, container=container)) as port:
                heard, _ = await hang_up_after(container, port, frames=10)

    assert b"".join(heard) == AUDIO_BYTE * len(b"".join(heard))  # the double's bytes, untranscoded
    for request in voice_server.requests:  # the greeting and the holding phrase
        assert (request["voice"], request["query"], request["key"]) == (VOICE, {"output_format": "ulaw_8000"}, KEY)
        assert request["body"]["model_id"] == "eleven_flash_v2_5"
    assert any("Lone Star Realty" in request["body"]["text"] for request in voice_server.requests)


async def test_a_rejected_key_falls_back_to_the_local_voice(
    settings: Settings, voice_server: ElevenLabsServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(voice_server.app()) as voice_port:
        with cloud_container(settings, voice_port, "xi-revoked") as container:
            voice_org(container)
            async with serve(create_app(container.settings, container=container)) as port:
                heard, _ = await hang_up_after(container, port, frames=10)

    assert voice_server.requests and voice_server.requests[0]["key"] == "xi-revoked"
    audio = b"".join(heard)
    assert AUDIO_BYTE * len(audio) != audio and len(set(audio)) > 8  # spoken by the local voice, not silence
    assert "falling back" in caplog.text and "xi-revoked" not in caplog.text
