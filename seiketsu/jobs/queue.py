"""The one facade through which every package enqueues background work.

``JobQueue.enqueue`` adds a :class:`Job` row to the caller's session, so the job commits or rolls back with the
change that caused it. After the commit a :class:`Dispatcher` is told (an RQ queue, or the in-process runner); if
that notice is lost, the sweeper finds the row and dispatches it again, so nothing is lost to a crash.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from seiketsu.db import utcnow
from seiketsu.jobs.models import Job
from seiketsu.jobs.registry import JobRegistry
from seiketsu.tenancy.scoping import tenant_of

logger = logging.getLogger(__name__)

_PENDING_KEY = "seiketsu.jobs.pending"
_DISPATCHER_KEY = "seiketsu.jobs.dispatcher"


class Dispatcher(Protocol):
    """Tells the workers that committed jobs are ready; best effort (the sweeper covers losses)."""

    def dispatch(self, job_ids: Sequence[uuid.UUID]) -> bool:
        """True when the workers were told; False when the jobs are left to the sweeper."""


class JobQueue:
    def __init__(self, *, registry: JobRegistry, dispatcher: Dispatcher, default_max_attempts: int = 8) -> None:
        self.registry = registry
        self.dispatcher = dispatcher
        self.default_max_attempts = default_max_attempts

    def enqueue(
        self,
        session: Session,
        name: str,
        payload: dict[str, Any],
        *,
        organization_id: uuid.UUID | None = None,
        delay: timedelta | None = None,
        max_attempts: int | None = None,
    ) -> Job:
        """Record a job in ``session``'s transaction; it is dispatched once that transaction commits."""
        if name not in self.registry:
            raise ValueError(f"no job handler named {name!r}")
        if organization_id is None:
            scope = tenant_of(session)
            if not isinstance(scope, uuid.UUID):
                raise ValueError("organization_id is required when enqueuing from a system session")
            organization_id = scope
        now = utcnow()
        run_at = now + delay if delay else now
        job = Job(
            organization_id=organization_id,
            name=name,
            payload=payload,
            run_at=run_at,
            dispatched_at=None if delay else now,
            max_attempts=max_attempts or self.default_max_attempts,
        )
        session.add(job)
        if not delay:
            session.info.setdefault(_PENDING_KEY, []).append(job.id)
            session.info[_DISPATCHER_KEY] = self.dispatcher
        return job


def _after_commit(session: Session) -> None:
    job_ids = session.info.pop(_PENDING_KEY, None)
    dispatcher = session.info.pop(_DISPATCHER_KEY, None)
    if not job_ids or dispatcher is None:
        return
    try:
        dispatcher.dispatch(job_ids)
    except Exception:
        # The rows are committed; the sweeper dispatches them again shortly.
        logger.exception("dispatching %d committed job(s) failed; the sweeper will retry", len(job_ids))


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_DISPATCHER_KEY, None)


def install_outbox_hooks(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_soft_rollback", lambda session, _tx: _after_rollback(session))
