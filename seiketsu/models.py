"""The kernel's tables; ``seiketsu.wiring.all_metadata()`` adds the domain packages' for Alembic and tests."""

from __future__ import annotations

from sqlmodel import SQLModel

from seiketsu.auth.models import ApiKey, RefreshToken
from seiketsu.jobs.models import Job
from seiketsu.leads.models import Appointment, Lead
from seiketsu.tenancy.models import Organization, PhoneNumber, User

__all__ = ["ApiKey", "Appointment", "Job", "Lead", "Organization", "PhoneNumber", "RefreshToken", "User", "metadata"]

metadata = SQLModel.metadata
