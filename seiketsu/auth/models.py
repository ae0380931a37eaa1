"""Credentials: refresh-token families and organization API keys (only hashes are stored)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from seiketsu.db import UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.models import Role
from seiketsu.tenancy.scoping import TenantModel


class RefreshToken(TenantModel, table=True):
    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    generation: int = Field(default=0)
    """The user's ``session_generation`` when issued; refreshing needs it to be the current one."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(TenantModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    role: Role = Field(sa_type=enum_column(Role, 20))
    created_by_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
