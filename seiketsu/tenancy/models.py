"""Organizations, their users and their phone numbers."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from seiketsu.db import JSONType, UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel, TenantRoot


class Role(enum.StrEnum):
    SUPER_ADMIN = "super_admin"
    ORG_ADMIN = "org_admin"
    MANAGER = "manager"
    AGENT = "agent"


class NumberPurpose(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BOTH = "both"


class Organization(TenantRoot, SQLModel, table=True):
    __tablename__ = "organizations"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=63, unique=True)
    timezone: str = Field(default="America/New_York", max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    max_concurrent_calls: int = Field(default=10)
    api_requests_per_minute: int = Field(default=600)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class User(TenantModel, table=True):
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("organization_id", "email"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(max_length=320)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_column(Role, 20))
    is_active: bool = Field(default=True)
    session_generation: int = Field(default=0)
    """Raised when the password changes or the user is deactivated: tokens of an older generation stop working."""
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PhoneNumber(TenantModel, table=True):
    __tablename__ = "phone_numbers"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    e164: str = Field(max_length=16, unique=True)
    purpose: NumberPurpose = Field(default=NumberPurpose.BOTH, sa_type=enum_column(NumberPurpose, 10))
    label: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
