"""A local stand-in for OpenAI's chat-completions endpoint, served over real HTTP by uvicorn.

``POST /v1/chat/completions`` with ``"stream": true`` answers ``text/event-stream``: one
``data: {chat.completion.chunk}`` event per chunk, then ``data: [DONE]``. Errors answer with their status
and ``{"error": {"message", "type", "code"}}``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def chunk(delta: dict[str, Any], *, finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-double",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def text_reply(*pieces: str) -> list[dict[str, Any]]:
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": piece}) for piece in pieces),
        chunk({}, finish_reason="stop"),
    ]


def tool_call_fragments(index: int, call_id: str, name: str, *argument_pieces: str) -> list[dict[str, Any]]:
    first = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    rest = [{"index": index, "function": {"arguments": piece}} for piece in argument_pieces]
    return [chunk({"tool_calls": [fragment]}) for fragment in [first, *rest]]


@dataclass
class ChatCompletionsDouble:
    chunks: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    error: dict[str, Any] | None = None
    delay_before_first: float = 0.0

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    async def completions(self, request: Request) -> Response:
        self.requests.append(await request.json())
        self.authorizations.append(request.headers.get("authorization", ""))
        if self.status != 200:
            return JSONResponse({"error": self.error or {"message": "error"}}, status_code=self.status)
        return StreamingResponse(self._events(), media_type="text/event-stream")

    async def _events(self) -> AsyncIterator[bytes]:
        await asyncio.sleep(self.delay_before_first)
        for item in self.chunks:
            yield f"data: {json.dumps(item)}\n\n".encode()
        yield b"data: [DONE]\n\n"


@asynccontextmanager
async def serving(double: ChatCompletionsDouble) -> AsyncIterator[ChatCompletionsDouble]:
    app = Starlette(routes=[Route("/v1/chat/completions", double.completions, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="none", http="h11")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(5):
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes readiness only as this flag
                await asyncio.sleep(0.01)
        double.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        yield double
    finally:
        server.should_exit = True
        await task
        sock.close()
