"""ElevenLabs text-to-speech over its HTTP streaming endpoint, straight to telephone audio.

``POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`` answers with raw mu-law 8 kHz
bytes as they are generated: the agent's own output format, so chunks are passed on untouched (any byte
boundary is a sample boundary in mu-law).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from agent.interfaces import ProviderError

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_MODEL_ID = "eleven_flash_v2_5"
OUTPUT_FORMAT = "ulaw_8000"


class ElevenLabsTTS:
    """One voice of ElevenLabs; instances for different voices share one ``httpx.AsyncClient``."""

    name = "elevenlabs"

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        api_key: str,
        voice_id: str,
        base_url: str = DEFAULT_BASE_URL,
        model_id: str = DEFAULT_MODEL_ID,
        voice_settings: Mapping[str, Any] | None = None,
        language_code: str | None = None,
        timeout: httpx.Timeout = httpx.Timeout(10.0, connect=3.0),
    ) -> None:
        self.voice = voice_id
        self._client = client
        self._api_key = api_key
        self._url = f"{base_url.rstrip('/')}/v1/text-to-speech/{voice_id}/stream"
        self._model_id = model_id
        self._voice_settings = dict(voice_settings) if voice_settings else None
        self._language_code = language_code
        self._timeout = timeout

    async def warm_up(self) -> None:
        """Nothing to load; pooled HTTPS connections expire within seconds, so none is opened ahead."""

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not text.strip():
            return
        body: dict[str, Any] = {"text": text, "model_id": self._model_id}
        if self._voice_settings is not None:
            body["voice_settings"] = self._voice_settings
        if self._language_code is not None:
            body["language_code"] = self._language_code
        try:
            async with self._client.stream(
                "POST",
                self._url,
                params={"output_format": OUTPUT_FORMAT},
                headers={"xi-api-key": self._api_key},
                json=body,
                timeout=self._timeout,
            ) as response:
                if response.status_code != httpx.codes.OK:
                    await response.aread()
                    raise ProviderError(f"ElevenLabs answered {response.status_code}: {_error_message(response)}")
                async for chunk in response.aiter_bytes():
                    if chunk:
                        yield chunk
        except httpx.TimeoutException as exc:
            raise ProviderError("ElevenLabs timed out") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"ElevenLabs request failed: {type(exc).__name__}") from exc


def _error_message(response: httpx.Response) -> str:
    """ElevenLabs errors carry ``{"detail": {"status": ..., "message": ...}}`` or ``{"detail": "..."}``."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    detail = payload.get("detail", payload) if isinstance(payload, dict) else payload
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("status") or detail)[:200]
    return str(detail)[:200]
