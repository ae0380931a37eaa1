"""Production jobs: RQ queues in Redis carry the outbox's job ids to ``seiketsu worker`` processes."""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Sequence

from redis import Redis
from rq import Queue, SimpleWorker

from seiketsu.jobs.runner import JobRunner

logger = logging.getLogger(__name__)

QUEUE_NAME = "seiketsu"

# The RQ job function is imported by name, so the worker hands it its runner through this context variable,
# set for the lifetime of the worker loop (never at import time).
_current_runner: contextvars.ContextVar[JobRunner] = contextvars.ContextVar("seiketsu_job_runner")


class RQDispatcher:
    def __init__(self, redis: Redis, *, job_timeout: int = 600) -> None:
        self.queue = Queue(QUEUE_NAME, connection=redis)
        self.job_timeout = job_timeout

    def dispatch(self, job_ids: Sequence[uuid.UUID]) -> None:
        for job_id in job_ids:
            self.queue.enqueue(
                perform_job,
                str(job_id),
                result_ttl=0,
                failure_ttl=24 * 3600,
                job_timeout=self.job_timeout,
            )


def perform_job(job_id: str) -> None:
    """The function RQ runs: execute one outbox job by id with the worker's runner."""
    _current_runner.get().run(uuid.UUID(job_id))


class RQWorker:
    """``seiketsu worker``: an RQ worker plus the sweeper that re-dispatches what was lost."""

    def __init__(self, runner: JobRunner, dispatcher: RQDispatcher, *, sweep_interval: float = 1.0) -> None:
        self._runner = runner
        self._dispatcher = dispatcher
        self._sweep_interval = sweep_interval
        self._stop = threading.Event()

    def sweep_once(self) -> int:
        ids = self._runner.sweep()
        if ids:
            self._dispatcher.dispatch(ids)
        return len(ids)

    def _sweeper(self) -> None:
        while not self._stop.wait(self._sweep_interval):
            try:
                self.sweep_once()
            except Exception:
                logger.exception("job sweeper iteration failed")

    def _worker(self) -> SimpleWorker:
        queue = self._dispatcher.queue
        return SimpleWorker([queue], connection=queue.connection)

    def work(self, *, burst: bool = False) -> None:
        token = _current_runner.set(self._runner)
        try:
            if burst:
                self._work_burst()
                return
            self.sweep_once()
            sweeper = threading.Thread(target=self._sweeper, name="seiketsu-sweeper", daemon=True)
            sweeper.start()
            try:
                self._worker().work(with_scheduler=False)
            finally:
                self._stop.set()
                sweeper.join(5)
        finally:
            _current_runner.reset(token)

    def _work_burst(self) -> None:
        """Run until no job is due: dispatch what is due, drain the queue, repeat (later retries are left)."""
        worker = self._worker()
        while ids := self._runner.due(limit=500):
            self._dispatcher.dispatch(ids)
            worker.work(burst=True)
