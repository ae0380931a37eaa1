"""Refuses input no route can store, before any route sees it: 422 problem+json naming the field.

PostgreSQL text and JSON cannot hold a NUL character, UTF-8 cannot encode an unpaired surrogate, JSON columns
cannot hold a non-finite number (``1e400`` parses to infinity), and a statement takes at most 65,535 parameters,
so a filter repeated 100,000 times must stop here. Checked: the path, every query parameter, and every string,
key and number of a JSON body. Field lengths and sizes are bounded by the schemas (:mod:`seiketsu.schemas`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seiketsu.errors import FieldError, ValidationFailed, problem_response

MAX_VALUES_PER_PARAMETER = 100
MAX_QUERY_PARAMETERS = 100
MAX_ERRORS_SHOWN = 20
NUL = "\x00"


def query_errors(query_string: bytes) -> Iterator[FieldError]:
    counts: dict[str, int] = {}
    with_nul: set[str] = set()
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        counts[key] = counts.get(key, 0) + 1
        if NUL in key or NUL in value:
            with_nul.add(key.replace(NUL, ""))
    for key in sorted(with_nul):
        yield FieldError(f"query.{key}", "must not contain a NUL character")
    if len(counts) > MAX_QUERY_PARAMETERS:
        yield FieldError("query", f"at most {MAX_QUERY_PARAMETERS} distinct parameters")
        return
    for key, count in counts.items():
        if count > MAX_VALUES_PER_PARAMETER:
            yield FieldError(f"query.{key}", f"at most {MAX_VALUES_PER_PARAMETER} values")


def _is_unicode(text: str) -> bool:
    """False for a string with an unpaired surrogate, which JSON's \\u escapes can carry but UTF-8 cannot."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _json_errors(value: Any, path: str) -> Iterator[FieldError]:
    if isinstance(value, str):
        if NUL in value:
            yield FieldError(path, "must not contain a NUL character")
        elif not _is_unicode(value):
            yield FieldError(path, "must not contain an unpaired surrogate")
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield FieldError(path, "must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key or not _is_unicode(key):
                yield FieldError(path, "keys must be text without NUL characters or unpaired surrogates")
            else:
                yield from _json_errors(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_errors(item, f"{path}.{index}")


def _body_errors(body: bytes) -> list[FieldError]:
    try:
        # Python's parser also takes NaN and Infinity, which are not JSON: they are refused like 1e400.
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return []  # not JSON: the route's own parsing answers with its error
    try:
        return list(islice(_json_errors(parsed, "body"), MAX_ERRORS_SHOWN))
    except RecursionError:
        return [FieldError("body", "nested too deeply")]


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            media_type: bytes = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return False


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        errors = list(query_errors(scope.get("query_string", b"")))
        if NUL in scope["path"]:
            errors.append(FieldError("path", "must not contain a NUL character"))
        if scope["type"] == "http" and _is_json(scope):
            body, receive = await _buffered(receive)
            errors.extend(_body_errors(body))
        if errors and scope["type"] == "http":
            failed = ValidationFailed(errors)
            response = problem_response(
                status=failed.status,
                title=failed.title,
                detail=failed.detail,
                instance=scope["path"].replace(NUL, ""),
                extra=failed.extra(),
            )
            await response(scope, receive, send)
            return
        if errors:  # a websocket handshake: refused before it is accepted
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replay([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
