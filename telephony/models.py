"""Calls and what was said on them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from seiketsu.db import JSONType, UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class CallDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStatus(enum.StrEnum):
    """Twilio's call statuses, in the order a call moves through them."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def rank(self) -> int:
        return _RANK[self]


_FINAL = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED}
)
_RANK = {status: index for index, status in enumerate(CallStatus)} | {status: 99 for status in _FINAL}


class CallOutcome(enum.StrEnum):
    QUALIFIED = "qualified"
    APPOINTMENT_SET = "appointment_set"
    TRANSFERRED = "transferred"
    NOT_INTERESTED = "not_interested"
    OPTED_OUT = "opted_out"
    MESSAGE_TAKEN = "message_taken"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


class Call(TenantModel, table=True):
    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_org_created", "organization_id", "created_at"),
        # The concurrent-call limit counts the calls that have not ended: a small index, however many calls ended.
        sa.Index(
            "ix_calls_live",
            "organization_id",
            "created_at",
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    call_sid: str | None = Field(default=None, max_length=64, unique=True)
    direction: CallDirection = Field(sa_type=enum_column(CallDirection, 10))
    from_number: str = Field(max_length=16)
    to_number: str = Field(max_length=16)
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="leads.id", index=True, ondelete="SET NULL")
    status: CallStatus = Field(default=CallStatus.QUEUED, sa_type=enum_column(CallStatus, 12))
    outcome: CallOutcome | None = Field(default=None, sa_type=enum_column(CallOutcome, 16))
    purpose: str | None = Field(default=None, max_length=20)
    answered_by: str | None = Field(default=None, max_length=32)
    gate_decision_id: str | None = Field(default=None, max_length=64)
    qualification: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    latencies: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    provider_failures: list[str] = Field(default_factory=list, sa_type=JSONType)
    duration_seconds: int | None = Field(default=None)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stream_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Set when the media stream reached the agent: from then on the stream's handler records the outcome."""
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TranscriptLine(TenantModel, table=True):
    __tablename__ = "transcript_lines"
    __table_args__ = (sa.UniqueConstraint("call_id", "seq"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    call_id: uuid.UUID = Field(foreign_key="calls.id", index=True, ondelete="CASCADE")
    seq: int
    speaker: str = Field(max_length=10)
    text: str = Field(sa_type=sa.Text)
    start_ms: int
    end_ms: int
    interrupted: bool = Field(default=False)
