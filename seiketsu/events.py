"""Domain events: a package publishes ("call.completed"), others subscribe one of their jobs to it.

Publishing enqueues one outbox job per subscriber in the publisher's transaction, so an event is delivered to
every subscriber at least once, or not at all when the transaction rolls back.

A subscriber may pass ``when``, a cheap check run in the publisher's transaction ("does this organization have a
CRM integration at all?"), so that an event nobody in the organization acts on costs no job. The check may only
narrow: when it cannot tell, or fails, the job is enqueued and decides for itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from seiketsu.jobs.models import Job
from seiketsu.jobs.queue import JobQueue
from seiketsu.tenancy.scoping import tenant_of

logger = logging.getLogger(__name__)

Relevance = Callable[[Session, uuid.UUID, Mapping[str, Any]], bool]
"""``when(session, organization_id, payload)``: False when the subscriber's job would certainly do nothing."""


@dataclass(frozen=True, slots=True)
class _Subscriber:
    job_name: str
    when: Relevance | None


class EventBus:
    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs
        self._subscribers: dict[str, list[_Subscriber]] = {}

    def subscribe(self, event: str, job_name: str, *, when: Relevance | None = None) -> None:
        """Run job ``job_name`` (registered with the job registry) with each ``event``'s payload."""
        subscribers = self._subscribers.setdefault(event, [])
        if any(s.job_name == job_name for s in subscribers):
            raise ValueError(f"{job_name!r} already subscribes to {event!r}")
        subscribers.append(_Subscriber(job_name, when))

    def subscribers(self, event: str) -> tuple[str, ...]:
        return tuple(s.job_name for s in self._subscribers.get(event, ()))

    def publish(
        self, session: Session, event: str, payload: dict[str, Any], *, organization_id: uuid.UUID | None = None
    ) -> list[Job]:
        """Enqueue every interested subscriber's job in ``session``'s transaction."""
        body = {"event": event, **payload}
        scope = organization_id if organization_id is not None else tenant_of(session)
        return [
            self._jobs.enqueue(session, s.job_name, body, organization_id=organization_id)
            for s in self._subscribers.get(event, ())
            if not isinstance(scope, uuid.UUID) or _interested(s, session, scope, body)
        ]


def _interested(subscriber: _Subscriber, session: Session, organization_id: uuid.UUID, body: dict[str, Any]) -> bool:
    if subscriber.when is None:
        return True
    try:
        return subscriber.when(session, organization_id, body)
    except Exception:
        logger.exception("relevance check of %s failed; its job is enqueued", subscriber.job_name)
        return True
