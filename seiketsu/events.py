"""Domain events: a package publishes ("call.completed"), others subscribe one of their jobs to it.

Publishing enqueues one outbox job per subscriber in the publisher's transaction, so an event is delivered to
every subscriber at least once, or not at all when the transaction rolls back.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from seiketsu.jobs.models import Job
from seiketsu.jobs.queue import JobQueue


class EventBus:
    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs
        self._subscribers: dict[str, list[str]] = {}

    def subscribe(self, event: str, job_name: str) -> None:
        """Run job ``job_name`` (registered with the job registry) with each ``event``'s payload."""
        subscribers = self._subscribers.setdefault(event, [])
        if job_name in subscribers:
            raise ValueError(f"{job_name!r} already subscribes to {event!r}")
        subscribers.append(job_name)

    def subscribers(self, event: str) -> tuple[str, ...]:
        return tuple(self._subscribers.get(event, ()))

    def publish(
        self, session: Session, event: str, payload: dict[str, Any], *, organization_id: uuid.UUID | None = None
    ) -> list[Job]:
        """Enqueue every subscriber's job in ``session``'s transaction."""
        body = {"event": event, **payload}
        return [
            self._jobs.enqueue(session, job_name, body, organization_id=organization_id)
            for job_name in self._subscribers.get(event, ())
        ]
