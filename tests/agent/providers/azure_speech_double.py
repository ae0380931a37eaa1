"""A local stand-in for the Azure Speech service, speaking its WebSocket protocol to the real SDK.

The SDK is pointed at it with ``SpeechConfig(host="ws://127.0.0.1:<port>")``, the way it is pointed at a
Speech container. Client messages: text ``speech.config`` / ``speech.context`` / ``telemetry``; binary
``audio`` (a big-endian 2-byte header length, ``Name: value`` header lines, then the payload: a WAV header
first, then raw audio, then an empty payload at end of stream). Service messages are text: headers
(``Path``, ``X-RequestId``, ``Content-Type``), a blank line, JSON: ``turn.start``, ``speech.startDetected``,
``speech.hypothesis`` {Text, Offset, Duration}, ``speech.phrase`` {RecognitionStatus, DisplayText, Offset,
Duration}, ``speech.endDetected``, ``turn.end``.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

_TICKS_PER_SECOND = 10_000_000  # offsets and durations are in 100 ns units


@dataclass
class WaveFormat:
    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int


@dataclass
class AzureSpeechDouble:
    hypotheses: list[str] = field(default_factory=list)
    """Sent one by one as audio arrives (one per ``hypothesis_every`` bytes)."""
    finals: list[str] = field(default_factory=list)
    """Sent as ``speech.phrase`` messages once the client ends the stream."""
    finalize: bool = True
    """False: never answer the end of the stream."""
    final_delay: float = 0.0
    """Seconds between the end of the stream and the final result (a slow service)."""
    reject_status: HTTPStatus | None = None
    hypothesis_every: int = 1600

    url: str = ""
    handshakes: list[Request] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    wave_formats: list[WaveFormat] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    ended_turns: int = 0

    async def wait_for_handshakes(self, count: int) -> None:
        """The SDK connects from its own threads: wait until ``count`` connections have been attempted."""
        async with asyncio.timeout(5.0):
            while len(self.handshakes) < count:  # noqa: ASYNC110 - recorded by the server's sync hook
                await asyncio.sleep(0.01)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(request)
        if self.reject_status is not None:
            return connection.respond(self.reject_status, "Access denied due to invalid subscription key.\n")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        turn: str | None = None
        hypotheses = iter(self.hypotheses)
        received_in_turn = 0
        async for message in ws:
            if isinstance(message, str):
                headers, _ = _split_text(message)
                self.paths.append(headers.get("Path", ""))
                continue
            headers, payload = _split_binary(message)
            request_id = headers["X-RequestId"]
            if turn != request_id:
                turn, received_in_turn = request_id, 0
                self.wave_formats.append(_wave_format(payload))
                await ws.send(_service("turn.start", request_id, {"context": {"serviceTag": "double"}}))
                await ws.send(_service("speech.startDetected", request_id, {"Offset": 0}))
                continue
            if payload:
                self.audio += payload
                before, received_in_turn = received_in_turn, received_in_turn + len(payload)
                if received_in_turn // self.hypothesis_every > before // self.hypothesis_every:
                    if (text := next(hypotheses, None)) is not None:
                        await ws.send(_service("speech.hypothesis", request_id, _span(text, received_in_turn)))
                continue
            if self.finalize:  # end of stream
                if self.final_delay:
                    await asyncio.sleep(self.final_delay)
                for text in self.finals:
                    phrase = {"RecognitionStatus": "Success", "DisplayText": text, **_span(text, received_in_turn)}
                    await ws.send(_service("speech.phrase", request_id, phrase))
                await ws.send(_service("speech.endDetected", request_id, {"Offset": received_in_turn}))
                await ws.send(_service("turn.end", request_id, {}))
                self.ended_turns += 1


@asynccontextmanager
async def running(double: AzureSpeechDouble) -> AsyncIterator[AzureSpeechDouble]:
    async with serve(double.handle, "127.0.0.1", 0, process_request=double.process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        double.url = f"ws://127.0.0.1:{port}"
        yield double


def _span(text: str, audio_bytes: int) -> dict[str, Any]:
    return {"Text": text, "Offset": 0, "Duration": audio_bytes * _TICKS_PER_SECOND // 8000}


def _service(path: str, request_id: str, body: dict[str, Any]) -> str:
    return (
        f"Path: {path}\r\nX-RequestId: {request_id}\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"
        + json.dumps(body)
    )


def _split_text(message: str) -> tuple[dict[str, str], str]:
    head, _, body = message.partition("\r\n\r\n")
    return _headers(head), body


def _split_binary(message: bytes) -> tuple[dict[str, str], bytes]:
    (length,) = struct.unpack(">H", message[:2])
    return _headers(message[2 : 2 + length].decode()), message[2 + length :]


def _headers(head: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in head.split("\r\n") if ":" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def _wave_format(riff: bytes) -> WaveFormat:
    if riff[:4] != b"RIFF" or riff[12:16] != b"fmt ":
        raise ValueError("the first audio message of a turn must carry a WAV header")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", riff[20:36])
    return WaveFormat(format_tag=tag, channels=channels, sample_rate=rate, bits_per_sample=bits)
