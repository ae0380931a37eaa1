"""Running outbox jobs: claim a row, run its handler, record success, a retry with backoff, or death.

Delivery is at least once: a running job holds a short lease that a heartbeat renews while its handler runs; a
worker killed mid-job stops renewing, and once the lease expires the sweeper hands the job out again. Handlers must
therefore be idempotent.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlmodel import col

from seiketsu.db import utcnow
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.jobs.registry import JobContext, PermanentFailure, RetryLater
from seiketsu.tenancy.scoping import system_session

if TYPE_CHECKING:
    from seiketsu.container import Container

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    lease: timedelta = timedelta(seconds=30)
    heartbeat: timedelta | None = None
    """How often a running job's lease is renewed; a third of the lease when not given."""
    redispatch_after: timedelta = timedelta(seconds=30)
    backoff_base: float = 2.0
    backoff_max: float = 3600.0

    @property
    def renew_every(self) -> float:
        return (self.heartbeat or self.lease / 3).total_seconds()


def backoff_delay(attempt: int, *, base: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(attempt-1), capped."""
    ceiling = min(maximum, base * (2 ** max(0, attempt - 1)))
    return rng.uniform(ceiling / 2, ceiling)


class JobRunner:
    def __init__(self, container: Container, config: RunnerConfig | None = None) -> None:
        self.container = container
        self.config = config or RunnerConfig()
        self._rng = random.Random()

    def _due_condition(self, now: datetime) -> sa.ColumnElement[bool]:
        return sa.or_(
            sa.and_(col(Job.status) == JobStatus.PENDING, col(Job.run_at) <= now),
            sa.and_(col(Job.status) == JobStatus.RUNNING, col(Job.locked_until) < now),
        )

    def sweep(self, *, limit: int = 500) -> list[uuid.UUID]:
        """Due jobs whose dispatch is missing or stale, and expired leases not dispatched since they expired (their
        worker died: they go again at once); marks them dispatched."""
        now = utcnow()
        dispatched = col(Job.dispatched_at)
        lost = sa.or_(dispatched.is_(None), dispatched < now - self.config.redispatch_after)
        with system_session(self.container.sessions) as session, session.begin():
            query = (
                sa.select(col(Job.id))
                .where(self._due_condition(now))
                .where(sa.or_(lost, sa.and_(col(Job.status) == JobStatus.RUNNING, dispatched < col(Job.locked_until))))
                .order_by(col(Job.run_at))
                .limit(limit)
            )
            if not self.container.settings.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if ids:
                session.execute(sa.update(Job).where(col(Job.id).in_(ids)).values(dispatched_at=now))
        return ids

    def due(self, *, limit: int = 50) -> list[uuid.UUID]:
        """Due jobs regardless of dispatch (the in-process runner's own polling)."""
        now = utcnow()
        with system_session(self.container.sessions) as session:
            query = sa.select(col(Job.id)).where(self._due_condition(now)).order_by(col(Job.run_at)).limit(limit)
            return list(session.scalars(query))

    def run_due(self, *, limit: int = 50) -> int:
        """Run (in this thread) up to ``limit`` jobs that are due now; returns how many this runner ran."""
        return sum(self.run(job_id) is not None for job_id in self.due(limit=limit))

    def _claim(self, job_id: uuid.UUID) -> Job | None:
        now = utcnow()
        with system_session(self.container.sessions) as session, session.begin():
            result = session.execute(
                sa.update(Job)
                .where(col(Job.id) == job_id)
                .where(self._due_condition(now))
                .values(
                    status=JobStatus.RUNNING,
                    attempts=Job.attempts + 1,
                    locked_until=now + self.config.lease,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if cast(sa.CursorResult[Any], result).rowcount != 1:
                return None
            return session.get(Job, job_id)

    def run(self, job_id: uuid.UUID) -> JobStatus | None:
        """Run one job if it is due and nobody else holds it; returns its new status (None if not claimed)."""
        job = self._claim(job_id)
        if job is None:
            return None
        handler = self.container.jobs.registry.get(job.name)
        context = JobContext(
            container=self.container,
            job_id=job.id,
            organization_id=job.organization_id,
            attempt=job.attempts,
            payload=dict(job.payload),
        )
        try:
            if handler is None:
                raise PermanentFailure(f"no handler registered for job {job.name!r}")
            with self._lease_kept(job):
                outcome = handler(context)
                if inspect.isawaitable(outcome):
                    asyncio.run(_await(outcome))
        except PermanentFailure as exc:
            status = self._finish_failed(job, exc, retry=False, delay=0.0)
        except RetryLater as exc:
            status = self._finish_failed(job, exc, retry=True, delay=exc.delay)
        except Exception as exc:
            logger.warning("job %s (%s) attempt %d failed: %s", job.id, job.name, job.attempts, exc)
            status = self._finish_failed(job, exc, retry=True, delay=None)
        else:
            self._set(job, status=JobStatus.SUCCEEDED, finished_at=utcnow(), locked_until=None, last_error=None)
            status = JobStatus.SUCCEEDED
        self.container.metrics.jobs.labels(job.name, "retry" if status is JobStatus.PENDING else status.value).inc()
        return status

    def _finish_failed(self, job: Job, exc: BaseException, *, retry: bool, delay: float | None) -> JobStatus:
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        if not retry or job.attempts >= job.max_attempts:
            logger.error("job %s (%s) is dead after %d attempt(s): %s", job.id, job.name, job.attempts, error)
            self._set(job, status=JobStatus.DEAD, last_error=error, locked_until=None, finished_at=utcnow())
            return JobStatus.DEAD
        if delay is None:
            delay = backoff_delay(
                job.attempts, base=self.config.backoff_base, maximum=self.config.backoff_max, rng=self._rng
            )
        self._set(
            job,
            status=JobStatus.PENDING,
            last_error=error,
            locked_until=None,
            dispatched_at=None,
            run_at=utcnow() + timedelta(seconds=delay),
        )
        return JobStatus.PENDING

    def _set(self, job: Job, **values: Any) -> bool:
        """Update the row of ``job`` as this run claimed it; False when a later claim has taken it over."""
        with system_session(self.container.sessions) as session, session.begin():
            result = session.execute(
                sa.update(Job)
                .where(col(Job.id) == job.id, col(Job.attempts) == job.attempts, col(Job.status) == JobStatus.RUNNING)
                .values(updated_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )
        return cast(sa.CursorResult[Any], result).rowcount == 1

    @contextmanager
    def _lease_kept(self, job: Job) -> Iterator[None]:
        """Renew ``job``'s lease every ``renew_every`` seconds while the block runs."""
        done = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(job, done), name="seiketsu-job-lease", daemon=True)
        heartbeat.start()
        try:
            yield
        finally:
            done.set()
            heartbeat.join()

    def _heartbeat(self, job: Job, done: threading.Event) -> None:
        while not done.wait(self.config.renew_every):
            try:
                kept = self._set(job, locked_until=utcnow() + self.config.lease)
            except Exception:  # the thread's loop boundary: the next beat tries again
                logger.exception("renewing the lease of job %s failed", job.id)
                continue
            if not kept:
                logger.warning("job %s (%s) lost its lease to another run", job.id, job.name)
                return


async def _await(awaitable: Any) -> None:
    await awaitable
