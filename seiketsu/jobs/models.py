"""The job outbox: every background job is a row first, written in the transaction that caused it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from seiketsu.db import JSONType, UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


class Job(TenantModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_status_run_at", "status", "run_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    status: JobStatus = Field(default=JobStatus.PENDING, sa_type=enum_column(JobStatus, 10))
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=8)
    run_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
