"""ElevenLabs text-to-speech through the ``elevenlabs`` SDK's streaming endpoint, straight to telephone audio.

The SDK sends ``POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`` over the
``httpx.AsyncClient`` it is given, and the answer is raw mu-law 8 kHz bytes as they are generated: the agent's
own output format, so chunks are passed on untouched (any byte boundary is a sample boundary in mu-law).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import httpx
from elevenlabs import AsyncElevenLabs, VoiceSettings
from elevenlabs.core.api_error import ApiError
from elevenlabs.core.request_options import RequestOptions

from agent.interfaces import SAMPLE_RATE, ProviderError

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_MODEL_ID = "eleven_flash_v2_5"
OUTPUT_FORMAT = "ulaw_8000"

_FRAME_BYTES = SAMPLE_RATE // 50
"""One 20 ms telephone frame of mu-law. The SDK re-slices the body into pieces of this size (its default,
1 KiB, would hold back up to 128 ms of audio already received)."""
_REQUEST_OPTIONS = RequestOptions(chunk_size=_FRAME_BYTES)


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
        # The SDK hands its timeout to httpx unchanged on every request; typed as seconds, it takes a
        # ``httpx.Timeout`` so that connecting keeps its own, shorter limit.
        self._sdk = AsyncElevenLabs(
            api_key=api_key, base_url=base_url.rstrip("/"), httpx_client=client, timeout=cast(float, timeout)
        )
        options: dict[str, Any] = {"model_id": model_id}
        if voice_settings is not None:
            options["voice_settings"] = VoiceSettings.model_validate(dict(voice_settings))
        if language_code is not None:
            options["language_code"] = language_code
        self._options = options

    async def warm_up(self) -> None:
        """Nothing to load; pooled HTTPS connections expire within seconds, so none is opened ahead."""

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not text.strip():
            return
        answer = self._sdk.text_to_speech.with_raw_response.stream(
            self.voice, text=text, output_format=OUTPUT_FORMAT, request_options=_REQUEST_OPTIONS, **self._options
        )
        try:
            # Leaving the block closes the response, so an abandoned answer stops being read at once.
            async with answer as response:
                async for chunk in response.data:
                    if chunk:
                        yield chunk
        except ApiError as exc:
            raise ProviderError(f"ElevenLabs answered {exc.status_code}: {_error_message(exc.body)}") from exc
        except httpx.TimeoutException as exc:
            raise ProviderError("ElevenLabs timed out") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"ElevenLabs request failed: {type(exc).__name__}") from exc


def _error_message(body: object) -> str:
    """ElevenLabs errors carry ``{"detail": {"status": ..., "message": ...}}`` or ``{"detail": "..."}``."""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("status") or detail)[:200]
    return str(detail)[:200]
