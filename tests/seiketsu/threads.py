"""Helpers for tests of blocking work on worker threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

import anyio


class Overlap:
    """Counts how many of its ``work`` calls run at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def work(self, seconds: float = 0.02) -> str:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(seconds)
        with self._lock:
            self.running -= 1
        return threading.current_thread().name


async def all_at_once(calls: int, run: Callable[[], Awaitable[object]]) -> None:
    """Start ``calls`` runs of ``run`` together and wait for them all."""

    async def one() -> None:
        await run()

    async with anyio.create_task_group() as group:
        for _ in range(calls):
            group.start_soon(one)
