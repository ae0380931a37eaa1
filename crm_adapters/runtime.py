"""The process-wide resources of CRM delivery, and the HTTP client each delivery or connection test opens.

Jobs run each in their own event loop, so no HTTP client outlives one: :func:`vendor_http` opens a client from
the runtime's factory (tests hand in one that reaches a local fake) and hooks the account's request schedule into
it, so that every request an adapter makes, token refreshes included, waits for its slot first.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from crm_adapters.factory import CRM_TYPES
from crm_adapters.throttle import MemoryThrottle, RedisThrottle, RequestLimit, Throttle, take_slot
from seiketsu.address_guard import GuardedTransport, Resolver, system_resolver
from seiketsu.container import Container
from seiketsu.crypto import SecretBox
from seiketsu.settings import ConfigError

EXTRAS_KEY = "crm"

HttpFactory = Callable[[], httpx.AsyncClient]


DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
"""Vendor APIs answer within seconds; a longer wait is treated as a timeout and retried."""


def http_client_factory(
    *,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    resolver: Resolver = system_resolver,
    allow_private: bool = False,
    transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
) -> HttpFactory:
    """Clients that connect only to vetted public addresses (:mod:`seiketsu.address_guard`, as webhooks do) and
    share one TLS context: loading the CA bundle costs tens of milliseconds, so once a process.
    ``transport_factory`` replaces the network below the guard (tests)."""
    ssl_context = httpx.create_ssl_context()
    network = transport_factory or (lambda: httpx.AsyncHTTPTransport(verify=ssl_context))

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=GuardedTransport(network, resolver=resolver, allow_private=allow_private),
            timeout=timeout,
            headers={"User-Agent": "seiketsu-crm-delivery/0.1"},
            follow_redirects=False,
            trust_env=False,
        )

    return client


@dataclass(frozen=True)
class CRMRuntime:
    """What delivery jobs and the integrations API share, kept in ``container.extras[EXTRAS_KEY]``."""

    secret_box: SecretBox
    throttle: Throttle
    http_factory: HttpFactory
    base_urls: Mapping[str, str] = field(default_factory=dict)
    """CRM type -> where its requests go instead of the vendor's hosts (``CRM_BASE_URLS``: local doubles)."""
    max_attempts: int = 12
    """Runs of a delivery job before the delivery is dead; backoff spreads them over about two hours."""
    delivery_lease: timedelta = timedelta(minutes=2)
    """Held by the worker pushing a delivery and renewed before each step; shorter than the job lease, so a
    re-run after a crash finds it lapsed."""
    max_throttle_wait: float = 30.0
    """A request slot further away than this hands the job back to the queue instead of sleeping."""
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    quota_pause: float = 3600.0
    """Wait after a spent daily budget when the vendor does not say until when."""
    clock: Callable[[], float] = field(default=time.time)
    """POSIX time for the adapters (token expiry)."""


def build_runtime(container: Container) -> CRMRuntime:
    settings = container.settings
    unknown = sorted(set(settings.crm_base_urls) - set(CRM_TYPES))
    if unknown:
        raise ConfigError("CRM_BASE_URLS", f"unknown CRM types {', '.join(unknown)}; known: {', '.join(CRM_TYPES)}")
    throttle: Throttle = RedisThrottle(container.redis) if container.redis is not None else MemoryThrottle()
    return CRMRuntime(
        secret_box=SecretBox.from_settings(container.settings),
        throttle=throttle,
        http_factory=http_client_factory(allow_private=settings.allow_private_crm_targets),
        base_urls=dict(settings.crm_base_urls),
        backoff_base=container.settings.job_backoff_base_seconds,
    )


def crm_runtime(container: Container) -> CRMRuntime:
    runtime = container.extras.get(EXTRAS_KEY)
    if not isinstance(runtime, CRMRuntime):
        raise RuntimeError("crm_adapters is not wired into this container")
    return runtime


@dataclass
class ExchangeLog:
    """The last answer the CRM gave on this client, for the delivery's attempt records."""

    last_status: int | None = None
    requests: int = 0
    waited_seconds: float = 0.0


@asynccontextmanager
async def vendor_http(
    runtime: CRMRuntime, *, throttle_key: str, limit: RequestLimit
) -> AsyncIterator[tuple[httpx.AsyncClient, ExchangeLog]]:
    """A client whose every request first takes a slot of ``throttle_key``'s schedule."""
    log = ExchangeLog()

    async def before(request: httpx.Request) -> None:
        log.waited_seconds += await take_slot(
            runtime.throttle, throttle_key, limit=limit, max_wait=runtime.max_throttle_wait
        )
        log.requests += 1

    async def after(response: httpx.Response) -> None:
        log.last_status = response.status_code

    async with runtime.http_factory() as client:
        hooks = client.event_hooks
        client.event_hooks = {
            "request": [*hooks.get("request", []), before],
            "response": [*hooks.get("response", []), after],
        }
        yield client, log
