"""Production jobs: RQ queues in Redis carry the outbox's job ids to ``seiketsu worker`` processes.

Redis only carries wake-ups; the jobs are rows in the database. So while Redis does not answer, nothing waits for
it: the web app leaves its jobs to the sweeper, and each worker's sweeper runs what is due itself, until Redis
answers again and RQ takes over.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from types import FrameType

from redis import ConnectionPool, Redis
from rq import Queue, SimpleWorker
from sqlalchemy.exc import OperationalError

from seiketsu.circuit import CircuitBreaker
from seiketsu.jobs.runner import JobRunner

logger = logging.getLogger(__name__)

QUEUE_NAME = "seiketsu"
DATABASE_WAIT = 60.0
RECONNECT_FIRST = 0.5
RECONNECT_MAX = 30.0

# The RQ job function is imported by name, so the worker hands it its runner through this context variable,
# set for the lifetime of the worker loop (never at import time).
_current_runner: contextvars.ContextVar[JobRunner] = contextvars.ContextVar("seiketsu_job_runner")


class RQDispatcher:
    """Puts committed job ids on the RQ queue, through the Redis breaker; False when Redis is out."""

    def __init__(self, redis: Redis, *, breaker: CircuitBreaker, job_timeout: int = 600) -> None:
        self.queue = Queue(QUEUE_NAME, connection=redis)
        self.breaker = breaker
        self.job_timeout = job_timeout

    def dispatch(self, job_ids: Sequence[uuid.UUID]) -> bool:
        try:
            self.breaker.call(lambda: self._enqueue(job_ids))
        except self.breaker.unavailable as exc:
            logger.warning("%d job(s) left to the sweeper: %s", len(job_ids), exc)
            return False
        return True

    def reachable(self) -> bool:
        """Whether Redis answers now (at once False while its breaker is open)."""
        try:
            self.breaker.call(self.queue.connection.ping)
        except self.breaker.unavailable:
            return False
        return True

    def _enqueue(self, job_ids: Sequence[uuid.UUID]) -> None:
        for job_id in job_ids:
            self.queue.enqueue(
                perform_job,
                str(job_id),
                result_ttl=0,
                failure_ttl=24 * 3600,
                job_timeout=self.job_timeout,
            )


def perform_job(job_id: str) -> None:
    """The function RQ runs: execute one outbox job by id with the worker's runner.

    While the database does not answer (a restart), it tries again with growing pauses for up to
    ``DATABASE_WAIT`` seconds: no other job could run meanwhile, and the job then runs as soon as it is back
    instead of when the sweeper next finds it.
    """
    runner = _current_runner.get()
    deadline = time.monotonic() + DATABASE_WAIT
    pause = 0.25
    while True:
        try:
            runner.run(uuid.UUID(job_id))
            return
        except OperationalError as exc:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("job %s: database unavailable (%s); again in %.2f s", job_id, type(exc).__name__, pause)
            time.sleep(pause)
            pause = min(5.0, pause * 2)


class OutboxWorker(SimpleWorker):
    """RQ's in-process worker, without RQ's pub/sub command listener, and telling us when a signal stops it.

    RQ's listener is a thread that waits up to 60 s for a message; at the end of ``work()`` RQ unsubscribes and
    then stops and joins that thread. When the thread reads the unsubscribe reply before the stop flag is set, it
    goes back to wait for a subscription that never comes, and the join waits its full 60 s: any burst or
    shutdown could stall a minute. These workers are stopped by signals (the Procfile's SIGTERM), never by RQ's
    pub/sub commands, so the listener is not started at all.
    """

    max_connection_wait_time = RECONNECT_MAX / 6
    """RQ's own pause between reconnects grows to this (60 s in RQ): jobs dispatched once Redis is back wait less."""

    def __init__(self, queues: list[Queue], *, connection: Redis, stopping: threading.Event) -> None:
        super().__init__(queues, connection=connection)
        self._stopping = stopping

    def subscribe(self) -> None:
        """No command listener (see the class docstring)."""

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


class RQWorker:
    """``seiketsu worker``: an RQ worker plus the sweeper that re-dispatches what was lost.

    Neither ever gives up on Redis: RQ's loop is restarted with backoff when Redis fails it, and while Redis is
    out the sweeper runs due jobs from the database itself.
    """

    def __init__(self, runner: JobRunner, dispatcher: RQDispatcher, *, sweep_interval: float = 1.0) -> None:
        self._runner = runner
        self._dispatcher = dispatcher
        self._sweep_interval = sweep_interval
        self._stop = threading.Event()

    def sweep_once(self) -> int:
        """Re-dispatch lost jobs, or run due jobs here while Redis is out; returns how many it handled."""
        if self._dispatcher.reachable():
            ids = self._runner.sweep()
            if not ids or self._dispatcher.dispatch(ids):
                return len(ids)
        return self._runner.run_due()

    def _sweeper(self) -> None:
        while not self._stop.wait(self._sweep_interval):
            try:
                self.sweep_once()
            except Exception:
                logger.exception("job sweeper iteration failed")

    def _worker(self) -> OutboxWorker:
        # RQ raises its connection's read timeout to outlast its blocking pop (minutes), so it gets a pool of
        # its own: the dispatcher's short timeouts stay as they are.
        pool = self._dispatcher.queue.connection.connection_pool
        own = ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs)
        connection = Redis(connection_pool=own)
        queue = Queue(QUEUE_NAME, connection=connection)
        return OutboxWorker([queue], connection=connection, stopping=self._stop)

    def work(self, *, burst: bool = False) -> None:
        token = _current_runner.set(self._runner)
        try:
            if burst:
                self._work_burst()
                return
            sweeper = threading.Thread(target=self._sweeper, name="seiketsu-sweeper", daemon=True)
            try:
                self.sweep_once()
            except Exception:
                logger.exception("job sweeper iteration failed")
            sweeper.start()
            try:
                self._serve()
            finally:
                self._stop.set()
                sweeper.join(5)
        finally:
            _current_runner.reset(token)

    def _serve(self) -> None:
        """RQ's loop, started again (after a growing pause) each time Redis ends it, until a signal stops it."""
        pause = RECONNECT_FIRST
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._run_rq(burst=False)
                problem = "Redis did not answer"
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if self._stop.is_set():
                return
            if time.monotonic() - started > RECONNECT_MAX:
                pause = RECONNECT_FIRST  # it had been working: a new outage starts its backoff afresh
            logger.warning("RQ worker loop ended (%s); starting again in %.1f s", problem, pause)
            self._stop.wait(pause)
            pause = min(RECONNECT_MAX, pause * 2)

    def _run_rq(self, *, burst: bool) -> None:
        worker = self._worker()
        try:
            worker.work(burst=burst, with_scheduler=False)
        finally:
            worker.connection.connection_pool.disconnect()

    def _work_burst(self) -> None:
        """Run until no job is due: dispatch what is due, drain the queue, repeat (later retries are left).
        While Redis is out, the due jobs are run here instead."""
        while ids := self._runner.due(limit=500):
            if not self._dispatcher.dispatch(ids) or not self._drain():
                self._runner.run_due(limit=500)

    def _drain(self) -> bool:
        try:
            self._run_rq(burst=True)
        except self._dispatcher.breaker.failures as exc:
            logger.warning("RQ burst failed (%s): due jobs run here", exc)
            return False
        return True
