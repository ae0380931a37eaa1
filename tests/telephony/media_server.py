"""A small stand-in for our server, for testing the simulator: answers the voice webhook with TwiML and speaks
the server's side of Media Streams with a trivial agent (greets, replies after the caller's speech ends, clears
when the caller talks over it), logging what it saw and when (event-loop time)."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from telephony import audio, codec, twiml
from telephony.signatures import SIGNATURE_HEADER, TwilioSignatureValidator, is_valid_twilio_signature

PUBLIC_BASE_URL = "https://public.test"
STREAM_URL = "wss://public.test/twilio/media"
AUTH_TOKEN = "test-auth-token"
KNOWN_NUMBER = "+15125550100"

M = TypeVar("M", bound=codec.InboundMessage)


@functools.lru_cache(maxsize=16)
def tone_ulaw(seconds: float, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    pcm = np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()
    return audio.pcm16_to_ulaw(pcm)


@dataclass
class Behaviour:
    greeting_seconds: float = 1.0
    reply_seconds: float = 0.5
    endpoint_silence: float = 0.3
    hang_up_after_greeting: bool = False
    send_garbage: bool = False
    greeting_chunks: int = 1


@dataclass
class ServerLog:
    webhook_forms: list[dict[str, str]] = field(default_factory=list)
    ws_signature_ok: list[bool] = field(default_factory=list)
    inbound: list[tuple[float, codec.InboundMessage]] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    marks_sent: dict[str, float] = field(default_factory=dict)
    mark_echoes: dict[str, float] = field(default_factory=dict)
    clears: list[float] = field(default_factory=list)
    replies: list[float] = field(default_factory=list)

    def of(self, kind: type[M]) -> list[M]:
        return [m for _, m in self.inbound if isinstance(m, kind)]


def build_app(behaviour: Behaviour, log: ServerLog) -> Starlette:
    validator = TwilioSignatureValidator(auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL)

    async def voice(request: Request) -> Response:
        form = await request.form()
        params = {k: str(v) for k, v in form.items()}
        signature = request.headers.get(SIGNATURE_HEADER)
        if not validator.is_valid(path=request.url.path, params=params, signature=signature):
            return Response("bad signature", status_code=403)
        log.webhook_forms.append(params)
        if params.get("To") != KNOWN_NUMBER:
            document = twiml.say_and_hang_up("This number is not in service.")
        else:
            document = twiml.connect_stream(STREAM_URL, {"callId": "call-1", "token": "tok"})
        return Response(document, media_type="application/xml")

    async def media(ws: WebSocket) -> None:
        log.ws_signature_ok.append(
            is_valid_twilio_signature(
                auth_token=AUTH_TOKEN, url=STREAM_URL, params=None, signature=ws.headers.get(SIGNATURE_HEADER)
            )
        )
        await ws.accept()
        await _Agent(ws, behaviour, log).run()

    return Starlette(routes=[Route("/twilio/voice", voice, methods=["POST"]), WebSocketRoute("/twilio/media", media)])


class _Agent:
    def __init__(self, ws: WebSocket, behaviour: Behaviour, log: ServerLog) -> None:
        self.ws, self.behaviour, self.log = ws, behaviour, log
        self.loop = asyncio.get_running_loop()
        self.sid = ""
        self.pending: set[str] = set()
        self.speaking = False
        self.last_voiced = 0.0
        self.replies = 0

    async def run(self) -> None:
        try:
            while True:
                text = await self.ws.receive_text()
                now = self.loop.time()
                try:
                    message = codec.parse_inbound(text)
                except codec.MalformedMessage as exc:
                    self.log.malformed.append(exc.reason)
                    continue
                self.log.inbound.append((now, message))
                if isinstance(message, codec.Stop):
                    await self.ws.close()
                    return
                if not await self.handle(message, now):
                    await self.ws.close()
                    return
        except WebSocketDisconnect:
            return

    async def handle(self, message: codec.InboundMessage, now: float) -> bool:
        if isinstance(message, codec.Start):
            self.sid = message.stream_sid
            if self.behaviour.send_garbage:
                await self.ws.send_text("this is not json")
                await self.ws.send_bytes(b"\x00\x01")
                await self.ws.send_text(codec.encode_mark("MZ-someone-else", "x"))
            greeting = tone_ulaw(self.behaviour.greeting_seconds)
            if greeting:
                size = -(-len(greeting) // self.behaviour.greeting_chunks)
                for chunk in audio.split_frames(greeting, size):
                    await self.ws.send_text(codec.encode_media(self.sid, chunk))
            await self.mark("greeting", now)
        elif isinstance(message, codec.Mark):
            self.log.mark_echoes[message.name] = now
            self.pending.discard(message.name)
            if message.name == "greeting" and self.behaviour.hang_up_after_greeting:
                return False
        elif isinstance(message, codec.Media):
            voiced = audio.rms(audio.ulaw_to_pcm16(message.payload)) > 500
            if voiced:
                if not self.speaking and self.pending:
                    await self.ws.send_text(codec.encode_clear(self.sid))
                    self.log.clears.append(now)
                self.speaking = True
                self.last_voiced = now
            elif self.speaking and now - self.last_voiced >= self.behaviour.endpoint_silence:
                self.speaking = False
                self.replies += 1
                self.log.replies.append(now)
                await self.ws.send_text(codec.encode_media(self.sid, tone_ulaw(self.behaviour.reply_seconds, 660)))
                await self.mark(f"reply-{self.replies}", now)
        return True

    async def mark(self, name: str, now: float) -> None:
        self.pending.add(name)
        self.log.marks_sent[name] = now
        await self.ws.send_text(codec.encode_mark(self.sid, name))


@asynccontextmanager
async def serve(behaviour: Behaviour, log: ServerLog) -> AsyncIterator[int]:
    """Run the app on a free localhost port in this event loop; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(behaviour, log), log_level="warning", ws="websockets-sansio", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()
