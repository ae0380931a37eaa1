"""Sending one signed delivery with a short timeout, over the runtime's client (it connects to vetted addresses only).

Nothing here raises for the receiver's sake: every outcome, a 2xx, another status, a timeout or a refused
target, comes back as a :class:`SendResult` for the delivery log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from seiketsu.address_guard import TargetRefused
from webhooks.runtime import WebhooksRuntime
from webhooks.signatures import sign_standard


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None
    duration_ms: int
    error: str | None = None
    refused: bool = False
    """The target was refused before sending (a private address): retrying cannot help."""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(*, secrets: list[str], message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": sign_standard(secrets=secrets, message_id=message_id, timestamp=timestamp, body=body),
    }


async def send(
    runtime: WebhooksRuntime,
    http: httpx.AsyncClient,
    *,
    url: str,
    secrets: list[str],
    message_id: str,
    body: str,
) -> SendResult:
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    headers = signed_headers(secrets=secrets, message_id=message_id, timestamp=runtime.clock(), body=body)
    try:
        response = await http.post(url, content=body.encode(), headers=headers)
    except TargetRefused as exc:
        return SendResult(status_code=None, duration_ms=elapsed(), error=f"target refused: {exc}", refused=True)
    except httpx.TimeoutException:
        return SendResult(status_code=None, duration_ms=elapsed(), error="timed out")
    except httpx.HTTPError as exc:
        return SendResult(status_code=None, duration_ms=elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return SendResult(status_code=response.status_code, duration_ms=elapsed(), error=error)
