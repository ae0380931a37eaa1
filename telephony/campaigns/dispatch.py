"""The dial dispatcher of a process: places a tick's reserved calls at their slots from an event loop of its own,
so that the tick's job ends as soon as its calls are reserved and its worker is free for the next job.

A tick that slept in its job until its last slot held a worker for about three seconds (the tick runs two seconds
ahead of its first slot and plans one second of slots), so at 600 calls a minute two or three ticks held workers
at any moment and every other job waited behind them. Here a tick holds its worker for its database work and the
gate's batch only.

The reservations are committed before they are handed over, so nothing is lost with the process: calls that were
reserved but never reached Twilio are failed and their leads made dialable again by the campaign's recovery (claims
past their lease). A graceful stop waits for the dials already handed over: the loop's thread is not a daemon, and
``close`` (called when the container closes) waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Work = Callable[[], Awaitable[object]]


class DialDispatcher:
    """Runs submitted dial work on a background event loop; the loop's thread starts with the first work and
    ends after ``idle_timeout`` seconds without any."""

    def __init__(self, *, idle_timeout: float = 2.0) -> None:
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._pending = 0

    @property
    def pending(self) -> int:
        """Work submitted and not finished yet."""
        with self._lock:
            return self._pending

    def submit(self, work: Work) -> None:
        """Run ``work()`` on the dispatcher's loop; its errors are logged, never raised here."""
        with self._lock:
            loop = self._loop if self._loop is not None else self._start()
            self._pending += 1
        asyncio.run_coroutine_threadsafe(self._run(work), loop)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted work has finished; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Wait for the work handed over (a stopping process still places the calls it reserved), then stop."""
        if not self.wait_idle(timeout):
            logger.warning("dial dispatcher stopped with %d tick(s) in flight; recovery releases them", self.pending)
        with self._lock:
            loop, thread, stop = self._loop, self._thread, self._stop
            self._loop = self._thread = self._stop = None
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout)

    async def _run(self, work: Work) -> None:
        try:
            await work()
        except Exception:  # one tick's failure must not stop the loop that serves the others
            logger.exception("campaign dial dispatch failed")
        finally:
            with self._changed:
                self._pending -= 1
                self._changed.notify_all()

    def _start(self) -> asyncio.AbstractEventLoop:
        """Start the loop's thread (the lock is held)."""
        loop, stop = asyncio.new_event_loop(), asyncio.Event()
        thread = threading.Thread(target=self._serve, args=(loop, stop), name="campaign-dialer", daemon=False)
        self._loop, self._thread, self._stop = loop, thread, stop
        thread.start()
        return loop

    def _serve(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._until_idle(loop, stop))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _until_idle(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), self._idle_timeout)
            except TimeoutError:
                pass
            with self._lock:
                if self._loop is not loop:
                    return  # closed
                if self._pending == 0:
                    self._loop = self._thread = self._stop = None
                    return
