"""The embedded mode's worker: a thread in the service process that runs due outbox jobs."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence

from seiketsu.jobs.runner import JobRunner

logger = logging.getLogger(__name__)


class InProcessDispatcher:
    """Wakes the in-process worker when jobs commit."""

    def __init__(self) -> None:
        self.wake = threading.Event()

    def dispatch(self, job_ids: Sequence[uuid.UUID]) -> bool:
        self.wake.set()
        return True


class InProcessWorker:
    def __init__(self, runner: JobRunner, dispatcher: InProcessDispatcher, *, poll_interval: float = 1.0) -> None:
        self._runner = runner
        self._wake = dispatcher.wake
        self._poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="seiketsu-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_pending(self) -> int:
        """Run every job that is due now, until none is left; returns how many ran."""
        count = 0
        while not self._stop.is_set() and (ran := self._runner.run_due()):
            count += ran
        return count

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:
                logger.exception("in-process job worker iteration failed")
            self._wake.wait(self._poll_interval)
