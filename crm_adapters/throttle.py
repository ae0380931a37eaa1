"""Pacing requests to a CRM account so that every worker together stays under the vendor's documented limit.

The vendors state their limits as rolling windows (HubSpot's ``TEN_SECONDLY_ROLLING``, Follow Up Boss's sliding
10 seconds, Pipedrive's rolling 2 seconds), so the schedule is a sliding-window log: each request books a time
at which it may be sent, the earliest at which the window ending then holds fewer than the limit, and sleeps
until it. Booking is one atomic step, so workers on any number of hosts share one log through Redis (on Redis'
clock) and queue in order instead of racing and collecting 429s; embedded mode keeps the log in the process.
Unlike a fixed spacing, the log lets requests go at once after a quiet spell, so time a busy or starved worker
lost is made up. A booking further away than a job should sleep is not made: the caller hands the delivery
back to the job queue for that long instead.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError


@dataclass(frozen=True, slots=True)
class RequestLimit:
    """At most ``requests`` per rolling ``window_seconds``."""

    requests: int
    window_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window_seconds <= 0:
            raise ValueError("a request limit needs at least one request per positive window")

    @property
    def allowed(self) -> int:
        """What we book per window: 3% fewer requests, kept for other apps on the account and for skew."""
        return self.requests - max(1, math.ceil(self.requests * 0.03)) if self.requests > 1 else 1

    @property
    def span(self) -> float:
        """The window we book against: 1% and 100 ms longer, so requests that arrive late (network, a busy
        worker between booking and sending) cannot squeeze two windows' worth into one at the vendor."""
        return self.window_seconds * 1.01 + 0.1


VENDOR_LIMITS: Mapping[str, RequestLimit] = MappingProxyType(
    {
        # Free/Starter accounts, shared by all of the account's apps; Professional and Enterprise allow 190.
        "hubspot": RequestLimit(100, 10.0),
        # Only daily allocations are documented; this stays far below any org's concurrency cap.
        "salesforce": RequestLimit(25, 1.0),
        # Credits per day and a concurrency cap (5 on Free); no per-second figure is documented.
        "zoho": RequestLimit(5, 1.0),
        # A rolling 2-second burst window per token; its size depends on the plan, this fits the smallest.
        "pipedrive": RequestLimit(20, 2.0),
        # The documented global context: a sliding 10-second window of 200 requests.
        "followupboss": RequestLimit(200, 10.0),
    }
)


def limit_for(crm_type: str, *, requests: int | None = None, window_seconds: float | None = None) -> RequestLimit:
    """The integration's override where given, else the vendor's documented (or conservative) limit."""
    default = VENDOR_LIMITS.get(crm_type, RequestLimit(10, 1.0))
    return RequestLimit(requests or default.requests, window_seconds or default.window_seconds)


@dataclass(frozen=True, slots=True)
class Reservation:
    granted: bool
    wait: float
    """Seconds until the booked time; when not granted, until the first time that could have been booked."""


def next_slot(booked: Sequence[float], *, now: float, limit: RequestLimit) -> float:
    """The earliest time from ``now`` at which the window ending then holds fewer than ``limit.allowed`` bookings.

    ``booked`` are the times already booked, ascending (those older than one span may be left out).
    """
    if len(booked) < limit.allowed:
        return now
    return max(now, booked[-limit.allowed] + limit.span)


class ThrottleWait(Exception):
    """The account's next free slot is further away than a job should sleep."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"CRM request budget is booked for the next {wait:.1f} s")
        self.wait = wait


class ThrottleUnavailable(Exception):
    """The shared schedule cannot be reached (Redis is down); sending blind would risk the account's limit."""


class Throttle(Protocol):
    """A log of booked request times per key, shared by every worker that uses the same backend."""

    def reserve(self, key: str, *, limit: RequestLimit, max_wait: float) -> Reservation:
        """Book ``key``'s next free time under ``limit`` if it is at most ``max_wait`` seconds away."""


class MemoryThrottle:
    """The log in this process: embedded mode, where all jobs run in one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._booked: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, *, limit: RequestLimit, max_wait: float) -> Reservation:
        with self._lock:
            now = self._clock()
            booked = self._booked.setdefault(key, [])
            del booked[: bisect.bisect_left(booked, now - limit.span)]
            at = next_slot(booked, now=now, limit=limit)
            if at - now > max_wait:
                return Reservation(False, at - now)
            booked.append(at)
            return Reservation(True, at - now)


# KEYS[1]: the key's log (a sorted set of booked times); ARGV: allowed, span, max wait, a unique member.
# Mirrors MemoryThrottle.reserve on the server's clock, so workers on different hosts agree.
_RESERVE = """
local allowed = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. tostring(now - span))
local count = redis.call('ZCARD', KEYS[1])
local at = now
if count >= allowed then
  local nth = redis.call('ZRANGE', KEYS[1], count - allowed, count - allowed, 'WITHSCORES')
  at = math.max(now, tonumber(nth[2]) + span)
end
local wait = at - now
if wait > max_wait then
  return {0, tostring(wait)}
end
redis.call('ZADD', KEYS[1], at, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + span) * 1000) + 1000)
return {1, tostring(wait)}
"""


class RedisThrottle:
    """The log in Redis, shared by every worker process; lost state (a restart) only frees slots early."""

    def __init__(self, redis: Redis, *, prefix: str = "seiketsu:crm:throttle:") -> None:
        self._script = redis.register_script(_RESERVE)
        self._prefix = prefix

    def reserve(self, key: str, *, limit: RequestLimit, max_wait: float) -> Reservation:
        args: list[str | int | float] = [limit.allowed, limit.span, max_wait, uuid.uuid4().hex]
        try:
            granted, wait = self._script(keys=[self._prefix + key], args=args)
        except RedisError as exc:
            raise ThrottleUnavailable(f"request schedule unavailable ({type(exc).__name__})") from exc
        return Reservation(bool(int(granted)), float(wait))


async def take_slot(throttle: Throttle, key: str, *, limit: RequestLimit, max_wait: float) -> float:
    """Wait for ``key``'s next slot under ``limit``; returns the seconds waited. Raises :class:`ThrottleWait`."""
    reservation = throttle.reserve(key, limit=limit, max_wait=max_wait)
    if not reservation.granted:
        raise ThrottleWait(reservation.wait)
    if reservation.wait > 0:
        await asyncio.sleep(reservation.wait)
    return reservation.wait
