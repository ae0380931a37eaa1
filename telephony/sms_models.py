"""Text messages to and from leads: follow-ups after calls, opt-out confirmations, help replies, conversations."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from seiketsu.db import UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class SmsDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SmsKind(enum.StrEnum):
    FOLLOW_UP = "follow_up"
    """A template sent after a call, chosen by the call's outcome."""
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    HELP = "help"
    INBOUND = "inbound"
    """A text the lead sent us."""


class SmsStatus(enum.StrEnum):
    """Ours (pending, sending, blocked) before Twilio has the message; Twilio's MessageStatus after."""

    PENDING = "pending"
    """Waiting for the gate's permit and the send job."""
    SENDING = "sending"
    """Handed to Twilio; its answer is not stored yet."""
    BLOCKED = "blocked"
    """The compliance gate refused it (``gate_decision_id`` says why)."""
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"
    RECEIVED = "received"

    @property
    def rank(self) -> int:
        """Delivery statuses only move forward: a late "sent" never overwrites "delivered"."""
        return _RANK.get(self, 0)


_RANK = {
    SmsStatus.ACCEPTED: 1,
    SmsStatus.SCHEDULED: 1,
    SmsStatus.QUEUED: 2,
    SmsStatus.SENT: 3,
    SmsStatus.DELIVERED: 4,
    SmsStatus.UNDELIVERED: 4,
    SmsStatus.FAILED: 4,
    SmsStatus.CANCELED: 4,
    SmsStatus.READ: 5,
}


class SmsMessage(TenantModel, table=True):
    __tablename__ = "sms_messages"
    __table_args__ = (
        # A call gets at most one follow-up, however often its event is delivered.
        sa.UniqueConstraint("call_id", "kind"),
        sa.Index("ix_sms_messages_org_created", "organization_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    message_sid: str | None = Field(default=None, max_length=64, unique=True)
    direction: SmsDirection = Field(sa_type=enum_column(SmsDirection, 10))
    kind: SmsKind = Field(sa_type=enum_column(SmsKind, 24))
    lead_id: uuid.UUID | None = Field(default=None, foreign_key="leads.id", index=True, ondelete="SET NULL")
    call_id: uuid.UUID | None = Field(default=None, foreign_key="calls.id", ondelete="SET NULL")
    from_number: str = Field(max_length=16)
    to_number: str = Field(max_length=16)
    body: str = Field(sa_type=sa.Text)
    status: SmsStatus = Field(default=SmsStatus.PENDING, sa_type=enum_column(SmsStatus, 12))
    purpose: str | None = Field(default=None, max_length=20)
    """What the gate is asked for an outbound text: marketing or informational."""
    opt_out_confirmation: bool = Field(default=False)
    send_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """The last moment the text may still go (an opt-out confirmation: 5 minutes)."""
    intent: str | None = Field(default=None, max_length=12)
    """An inbound text's meaning for consent: opt_out, opt_in, help or other."""
    gate_decision_id: str | None = Field(default=None, max_length=64)
    error_code: int | None = Field(default=None)
    error_message: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
