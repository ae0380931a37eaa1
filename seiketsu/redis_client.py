"""The process's Redis client, and the circuit breaker every user of it shares.

redis-py waits 5 s for a command by default and retries a failed one ten times: a stalled Redis then held each
request (and the worker threads serving them) for seconds. Here a command that takes longer than
``REDIS_TIMEOUT_SECONDS`` fails, a refused connection is retried once at once (a pooled connection that a Redis
restart closed), and after three failures in a row every user takes its fallback without trying Redis until
``REDIS_RETRY_AFTER_SECONDS`` have passed.
"""

from __future__ import annotations

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from seiketsu.circuit import CircuitBreaker
from seiketsu.settings import Settings

REDIS_FAILURES: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
"""Redis did not answer (as opposed to answering with an error)."""


def connect_redis(url: str, settings: Settings) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


def redis_breaker(settings: Settings) -> CircuitBreaker:
    return CircuitBreaker("redis", failures=REDIS_FAILURES, reset_after=settings.redis_retry_after_seconds)
