"""The container: every long-lived resource of a process, built once from settings and passed down.

The web app (``create_app``), the worker and the CLI all build the same container, so a job runs with exactly
the resources a request would have.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from redis import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from seiketsu.auth.passwords import Passwords
from seiketsu.bulk_imports import BulkImports
from seiketsu.circuit import CircuitBreaker
from seiketsu.db import create_engine, create_session_factory
from seiketsu.events import EventBus
from seiketsu.heap_trim import HeapTrimmer
from seiketsu.jobs.embedded import InProcessDispatcher
from seiketsu.jobs.queue import Dispatcher, JobQueue, install_outbox_hooks
from seiketsu.jobs.registry import JobRegistry
from seiketsu.jobs.rq_backend import RQDispatcher
from seiketsu.jobs.runner import RunnerConfig
from seiketsu.observability.metrics import Metrics
from seiketsu.ratelimit import FallbackRateLimiter, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from seiketsu.redis_client import connect_redis, redis_breaker
from seiketsu.settings import Settings
from seiketsu.tenancy.scoping import install_scoping

logger = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis | None
    redis_breaker: CircuitBreaker | None
    """Shared by every user of ``redis``: once it has failed a few times, they take their fallbacks at once."""
    passwords: Passwords
    rate_limiter: RateLimiter
    jobs: JobQueue
    events: EventBus
    metrics: Metrics
    runner_config: RunnerConfig
    heap: HeapTrimmer
    """Hands freed heap memory back to the OS while the web app or a worker runs (they start and stop it)."""
    imports: BulkImports
    """Uploads being imported by the web process: admitted per organization, run on threads of their own."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Resources that domain packages attach when the app factory wires them (keyed by package)."""
    closers: list[Callable[[], None]] = field(default_factory=list)
    """What packages stop when the process stops, before the database and Redis connections close (last first)."""

    def close(self) -> None:
        while self.closers:
            try:
                self.closers.pop()()
            except Exception:
                logger.exception("stopping a package's resource failed")
        self.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def build_container(
    settings: Settings, *, runner_config: RunnerConfig | None = None, passwords: Passwords | None = None
) -> Container:
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    install_scoping(sessions)
    install_outbox_hooks(sessions)
    redis: Redis | None = None
    breaker: CircuitBreaker | None = None
    dispatcher: Dispatcher = InProcessDispatcher()
    rate_limiter: RateLimiter = MemoryRateLimiter()
    if settings.redis_url:
        redis = connect_redis(settings.redis_url, settings)
        breaker = redis_breaker(settings)
        dispatcher = RQDispatcher(redis, breaker=breaker)
        rate_limiter = FallbackRateLimiter(RedisRateLimiter(redis), MemoryRateLimiter(), breaker=breaker)
    jobs = JobQueue(registry=JobRegistry(), dispatcher=dispatcher)
    metrics = Metrics()
    imports = BulkImports(settings)
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        redis=redis,
        redis_breaker=breaker,
        passwords=passwords or Passwords(),
        rate_limiter=rate_limiter,
        jobs=jobs,
        events=EventBus(jobs),
        metrics=metrics,
        runner_config=runner_config
        or RunnerConfig(
            lease=timedelta(seconds=settings.job_lease_seconds),
            heartbeat=timedelta(seconds=settings.job_heartbeat_seconds),
            backoff_base=settings.job_backoff_base_seconds,
        ),
        heap=HeapTrimmer.for_this_process(settings.malloc_trim_interval_seconds, observe=metrics.malloc_trim.observe),
        imports=imports,
        closers=[imports.close],
    )
