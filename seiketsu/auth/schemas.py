from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from seiketsu.auth.passwords import MIN_PASSWORD_LENGTH
from seiketsu.schemas import CamelModel, InputModel
from seiketsu.tenancy.models import Role


class LoginIn(InputModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)
    organization_slug: str = Field(min_length=1, max_length=63)


class RefreshIn(InputModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenOut(CamelModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    password_change_required: bool = False
    """Set your own password (``PUT /auth/profile``) before anything else: until then other routes answer 403."""


class MeOut(CamelModel):
    id: uuid.UUID | None
    email: str | None
    full_name: str | None
    role: Role
    organization_id: uuid.UUID
    permissions: list[str]
    api_key_id: uuid.UUID | None = None
    last_login_at: datetime | None = None


class ProfileIn(InputModel):
    full_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    current_password: str | None = Field(default=None, max_length=1000)
    new_password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1000)


class ApiKeyIn(InputModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role = Role.MANAGER


class ApiKeyOut(CamelModel):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str
