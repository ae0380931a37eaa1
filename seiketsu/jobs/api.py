"""Routes: /api/v1/jobs (the outbox, its dead letters, and re-driving them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.errors import Conflict, NotFound
from seiketsu.jobs.models import Job, JobStatus
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort
from seiketsu.schemas import CamelModel, Page

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

SORT_FIELDS = {f.name: f for f in (datetime_field("createdAt", Job.created_at), datetime_field("runAt", Job.run_at))}


class JobOut(CamelModel):
    id: uuid.UUID
    name: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@router.get("", response_model=Page[JobOut])
def list_jobs(
    status: JobStatus | None = Query(default=None),
    name: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.ORGANIZATION_READ)),
    session: Session = Depends(scoped_session),
) -> Page[Job]:
    query = sa.select(Job)
    if status:
        query = query.where(col(Job.status) == status)
    if name:
        query = query.where(col(Job.name) == name)
    keys = parse_sort(None, SORT_FIELDS, default="-createdAt")
    items, next_cursor = paginate(session, query, keys=keys, id_column=Job.id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobOut)
def get_job(
    job_id: uuid.UUID,
    _: Principal = Depends(require(Permission.ORGANIZATION_READ)),
    session: Session = Depends(scoped_session),
) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("job not found")
    return job


@router.post("/{job_id}/redrive", response_model=JobOut)
def redrive_job(
    job_id: uuid.UUID,
    _: Principal = Depends(require(Permission.ORGANIZATION_UPDATE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> Job:
    """Give a dead job a fresh set of attempts, now."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("job not found")
    if job.status != JobStatus.DEAD:
        raise Conflict(f"only dead jobs can be re-driven; this one is {job.status}")
    now = utcnow()
    job.status = JobStatus.PENDING
    job.attempts = 0
    job.run_at = now
    job.dispatched_at = now
    job.finished_at = None
    job.updated_at = now
    session.commit()
    container.jobs.dispatcher.dispatch([job.id])
    return job
