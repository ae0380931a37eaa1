"""Every table, imported in one place so that the metadata Alembic compares is complete."""

from __future__ import annotations

from sqlmodel import SQLModel

from seiketsu.auth.models import ApiKey, RefreshToken
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Lead
from seiketsu.tenancy.models import Organization, PhoneNumber, User

__all__ = ["ApiKey", "Job", "Lead", "Organization", "PhoneNumber", "RefreshToken", "User", "metadata"]

metadata = SQLModel.metadata
