"""What the webhook routes and jobs share in a process, kept in ``container.extras[EXTRAS_KEY]``.

Jobs run each in an event loop of their own, so an HTTP client is made per delivery from ``http_factory`` (the TLS
context is built once); tests and the benchmark hand in a resolver and timings of their own.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from seiketsu.address_guard import GuardedTransport, Resolver, system_resolver
from seiketsu.container import Container
from seiketsu.crypto import SecretBox
from seiketsu.db import utcnow

EXTRAS_KEY = "webhooks"

RETRY_SCHEDULE: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 8 * 3600, 8 * 3600)
"""Seconds between a delivery's attempts after the first: eight attempts spread over about 23.6 hours."""

DELIVERY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""A receiver that takes longer has failed this attempt; a slow one never holds a worker for longer."""

ROTATION_GRACE = timedelta(hours=24)
"""How long an endpoint's previous secret still signs deliveries after a rotation."""


@dataclass
class WebhooksRuntime:
    secret_box: SecretBox
    resolver: Resolver = system_resolver
    allow_private_targets: bool = False
    retry_schedule: tuple[float, ...] = RETRY_SCHEDULE
    timeout: httpx.Timeout = field(default_factory=lambda: DELIVERY_TIMEOUT)
    clock: Callable[[], datetime] = utcnow
    """Judges inbound timestamps and stamps outbound ones."""
    tls: ssl.SSLContext = field(default_factory=httpx.create_ssl_context)

    def http_client(self) -> httpx.AsyncClient:
        """A client that sends only to vetted addresses (see :mod:`seiketsu.address_guard`)."""
        transport = GuardedTransport(
            lambda: httpx.AsyncHTTPTransport(verify=self.tls),
            resolver=self.resolver,
            allow_private=self.allow_private_targets,
        )
        return httpx.AsyncClient(
            transport=transport,
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "seiketsu-webhooks/0.1"},
        )


def build_runtime(container: Container) -> WebhooksRuntime:
    return WebhooksRuntime(
        secret_box=SecretBox.from_settings(container.settings),
        allow_private_targets=container.settings.allow_private_webhook_targets,
    )


def webhooks_runtime(container: Container) -> WebhooksRuntime:
    runtime = container.extras.get(EXTRAS_KEY)
    if not isinstance(runtime, WebhooksRuntime):
        raise RuntimeError("the webhooks package is not wired into this container")
    return runtime
