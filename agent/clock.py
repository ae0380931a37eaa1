"""Time sources the agent measures latency and playback with, injectable so tests are deterministic."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A monotonic clock in seconds; only differences between readings mean anything."""

    def now(self) -> float: ...


class MonotonicClock:
    """The process's monotonic clock."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds


def utc_now() -> datetime:
    """Wall-clock time for things that need a date (appointments); kept apart from the monotonic clock."""
    return datetime.now(UTC)
