"""The compliance package's tables.

Append-only tables (the consent ledger, the internal Do-Not-Call list and its withdrawals, the gate's decisions)
are never updated or deleted by the application: see ``compliance.append_only``. Registry copies are data the
organization downloads; an import replaces them (set-based, see ``compliance.imports``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from seiketsu.db import JSONType, UTCDateTime, enum_column, new_id, utcnow
from seiketsu.tenancy.scoping import TenantModel


class ConsentRecord(TenantModel, table=True):
    """One consent-ledger event: a grant (with its kind, scope and evidence) or a revocation (when and how).

    ``channels`` and ``purposes`` hold the values of ``ConsentChannel`` and ``Purpose``. Kept at least five
    years: the application never deletes a row.
    """

    __tablename__ = "consent_events"
    __table_args__ = (sa.Index("ix_consent_events_org_phone_at", "organization_id", "phone", "occurred_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    phone: str = Field(max_length=16)
    action: str = Field(max_length=10)
    """"grant" or "revoke" (``ConsentAction``)."""
    kind: str | None = Field(default=None, max_length=30)
    """``ConsentKind`` of a grant; None for a revocation."""
    channels: list[str] = Field(sa_type=JSONType)
    purposes: list[str] = Field(sa_type=JSONType)
    method: str = Field(max_length=20)
    """How it came: a ``GrantSource`` for a grant, a ``RevocationMethod`` for a revocation."""
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    """When the consumer gave or revoked consent."""
    form_url: str | None = Field(default=None, max_length=2000)
    text_shown: str | None = Field(default=None, sa_type=sa.Text)
    ip_address: str | None = Field(default=None, max_length=45)
    recording_ref: str | None = Field(default=None, max_length=500)
    agreement_ref: str | None = Field(default=None, max_length=500)
    detail: str = Field(default="", sa_type=sa.Text)
    """What the consumer said or wrote, or the person's note."""
    recorded_by: str = Field(max_length=80)
    """"user:<id>", "api_key:<id>" or "system:<component>"."""
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DoNotCallRequest(TenantModel, table=True):
    """A request to be put on the organization's internal Do-Not-Call list, honoured from ``requested_at``.

    Kept at least five years (47 CFR 64.1200(d)(6)). A number leaves the list only by a later
    ``DoNotCallWithdrawal``; the request itself stays.
    """

    __tablename__ = "dnc_internal"
    __table_args__ = (sa.Index("ix_dnc_internal_org_phone", "organization_id", "phone", "requested_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    phone: str = Field(max_length=16)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(max_length=20)
    """How the request came: api, call, sms, agent, web."""
    note: str = Field(default="", max_length=500)
    recorded_by: str = Field(default="system", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DoNotCallWithdrawal(TenantModel, table=True):
    """The consumer asked to be contacted again: every earlier request for the number stops counting."""

    __tablename__ = "dnc_internal_withdrawals"
    __table_args__ = (sa.Index("ix_dnc_internal_withdrawals_org_phone", "organization_id", "phone", "withdrawn_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    phone: str = Field(max_length=16)
    withdrawn_at: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(max_length=20)
    reason: str = Field(max_length=500)
    recorded_by: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RegistryList(TenantModel, table=True):
    """One organization's copy of one registry ("national", "state:TX")."""

    __tablename__ = "dnc_registry_lists"
    __table_args__ = (sa.UniqueConstraint("organization_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RegistryArea(TenantModel, table=True):
    """The date of the copy held for one area code of one list; no row means no copy (marketing is blocked)."""

    __tablename__ = "dnc_registry_areas"

    list_id: int = Field(foreign_key="dnc_registry_lists.id", primary_key=True, ondelete="CASCADE")
    area_code: str = Field(max_length=3, primary_key=True)
    as_of: date
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RegistryNumber(SQLModel, table=True):
    """A number listed in a registry copy, with the earliest copy date it has been listed in continuously (a record
    of the imports, not a registration date: the gate reads only whether a copy lists the number).

    Tens of millions of rows, so kept narrow: the ten NANP digits as an integer, keyed by the tenant-owned
    ``RegistryList`` (no organization column; read only through a list the session's scope has found). No
    foreign key either: the per-row referential check would halve the import rate, and lists are never deleted.
    """

    __tablename__ = "dnc_registry_numbers"

    list_id: int = Field(primary_key=True)
    number: int = Field(sa_type=sa.BigInteger, primary_key=True)
    first_listed_on: date


class ImportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RegistryImport(TenantModel, table=True):
    """One registry file imported, or being imported: the record the DNC safe harbor asks to keep."""

    __tablename__ = "dnc_registry_imports"
    __table_args__ = (sa.Index("ix_dnc_registry_imports_org_created", "organization_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    list_name: str = Field(max_length=16)
    """"national" or "state:XX"."""
    kind: str = Field(max_length=10)
    """"full" or "changes" (``ListKind``)."""
    as_of: date
    file_name: str = Field(max_length=255)
    declared_area_codes: list[str] = Field(default_factory=list, sa_type=JSONType)
    status: ImportStatus = Field(default=ImportStatus.QUEUED, sa_type=enum_column(ImportStatus, 10))
    accepted: int = 0
    additions: int = 0
    deletions: int = 0
    rejected: int = 0
    rejected_lines: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    area_codes: list[str] = Field(default_factory=list, sa_type=JSONType)
    """Area codes whose copy this import set or advanced."""
    numbers_added: int = 0
    numbers_removed: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text)
    requested_by: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RegistryUploadChunk(TenantModel, table=True):
    """An uploaded registry file held in the database until its import job has run (web and worker processes
    may run on different machines, so a local temporary file would not do)."""

    __tablename__ = "dnc_registry_upload_chunks"

    import_id: uuid.UUID = Field(foreign_key="dnc_registry_imports.id", primary_key=True, ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)


class GateDecision(TenantModel, table=True):
    """The audit log: one row per decision of the gate, append-only (an ORM guard and, on PostgreSQL, a trigger
    refuse UPDATE and DELETE). Citations and versions of the rules are in ``RulebookSnapshot``.

    The organization is named without a foreign key: the log is kept five years whatever becomes of the
    organization's row (a cascade would erase it, and the trigger refuses that), and a batch's COPY would pay a
    referential check per row (about a third of the server's work for each audit row).
    """

    __tablename__ = "compliance_decisions"
    __table_args__ = (
        sa.Index("ix_compliance_decisions_org_phone_at", "organization_id", "phone", "at"),
        # The gate's frequency caps read earlier permits only: a small index, whatever the audit log's size.
        sa.Index(
            "ix_compliance_decisions_permits",
            "organization_id",
            "phone",
            "at",
            postgresql_where=sa.text("permit_expires_at IS NOT NULL"),
            sqlite_where=sa.text("permit_expires_at IS NOT NULL"),
        ),
    )

    organization_id: uuid.UUID = Field(default=None, nullable=False)
    """Indexed as the leading column of ix_compliance_decisions_org_phone_at."""
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    decided_at: datetime = Field(sa_type=UTCDateTime)
    phone: str = Field(max_length=32)
    """E.164 when the input was a valid number, else the input as given (cut to 32 characters)."""
    channel: str = Field(max_length=10)
    voice: str | None = Field(default=None, max_length=10)
    purpose: str = Field(max_length=20)
    at: datetime = Field(sa_type=UTCDateTime)
    """The moment of the call or text asked about."""
    lead_id: uuid.UUID | None = None
    """No foreign key: deleting a lead must not touch the audit log."""
    state: str | None = Field(default=None, max_length=2)
    postal_code: str | None = Field(default=None, max_length=10)
    opt_out_confirmation: bool = False
    allowed: bool
    checks_digest: str = Field(max_length=64)
    """The decision's checks: the ``GateCheckSet`` of this organization with this digest."""
    next_allowed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rulebook_version: str = Field(max_length=64)
    requested_by_kind: str = Field(max_length=10)
    """"user", "api_key" or "system"."""
    requested_by: str = Field(max_length=80)
    permit_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Set when the decision issued a permit to dial or text; such decisions count as attempts."""


class GateCheckSet(TenantModel, table=True):
    """Every rule's verdict of a decision (rule, result, detail, version), stored once per distinct list.

    Decisions about equal facts reach equal verdicts, so an audit row names its checks by the SHA-256 digest of
    their canonical JSON (``compliance.audit.canonical_checks``) instead of repeating them: a batch's audit rows
    are a fifth of the size, and the server parses each distinct list once. Append-only, like the decisions, and
    written in the decision's transaction; like them, it names the organization without a foreign key.
    """

    __tablename__ = "compliance_check_sets"

    organization_id: uuid.UUID = Field(default=None, primary_key=True, nullable=False)
    digest: str = Field(primary_key=True, max_length=64)
    checks: list[dict[str, str]] = Field(sa_type=JSONType)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class RulebookSnapshot(SQLModel, table=True):
    """The citation and version of every rule of one rule-book version, recorded once per version."""

    __tablename__ = "compliance_rulebooks"

    version: str = Field(max_length=64, primary_key=True)
    rules: dict[str, Any] = Field(sa_type=JSONType)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
