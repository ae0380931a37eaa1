"""Token-bucket rate limiting: shared through Redis in production, in-process in embedded mode.

While Redis does not answer, :class:`FallbackRateLimiter` counts in this process instead: each process then
allows up to the limit on its own, which is looser than the shared bucket but never blocks a request on Redis.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from redis import Redis

from seiketsu.circuit import CircuitBreaker


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: float


class RateLimiter(Protocol):
    def hit(self, key: str, *, per_minute: int) -> Verdict:
        """Take one token from ``key``'s bucket (capacity and refill: ``per_minute`` a minute)."""


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, per_minute: int) -> Verdict:
        rate = per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - updated) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return Verdict(True, 0.0)
            self._buckets[key] = (tokens, now)
            return Verdict(False, (1.0 - tokens) / rate)


# KEYS[1] bucket; ARGV: capacity, refill per second. Redis' own clock keeps workers on different hosts consistent.
_TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(retry)}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, *, prefix: str = "seiketsu:rl:") -> None:
        self._script = redis.register_script(_TOKEN_BUCKET)
        self._prefix = prefix

    def hit(self, key: str, *, per_minute: int) -> Verdict:
        allowed, retry = self._script(keys=[self._prefix + key], args=[per_minute, per_minute / 60.0])
        return Verdict(bool(int(allowed)), float(retry))


class FallbackRateLimiter:
    """``primary`` through ``breaker``; ``fallback`` while the breaker is open or the primary fails."""

    def __init__(self, primary: RateLimiter, fallback: RateLimiter, *, breaker: CircuitBreaker) -> None:
        self._primary = primary
        self._fallback = fallback
        self._breaker = breaker

    def hit(self, key: str, *, per_minute: int) -> Verdict:
        try:
            return self._breaker.call(lambda: self._primary.hit(key, per_minute=per_minute))
        except self._breaker.unavailable:
            return self._fallback.hit(key, per_minute=per_minute)
