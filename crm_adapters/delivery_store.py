"""The database side of a delivery run: claiming it, recording each step, settling its status.

Every method is one short transaction in the job's organization, none held while the CRM is called. A run owns the
delivery through a lease token: claiming fails while another run's lease is live, recording a step renews it, and
status changes apply only while the token is still the delivery's.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from crm_adapters.delivery import LeaseLost
from crm_adapters.errors import CRMError
from crm_adapters.models import Delivery, DeliveryAttempt, DeliveryStatus, Integration, RemoteKind, RemoteRecord
from crm_adapters.outcome_plan import AppointmentInfo, LeadInfo, local_ids
from crm_adapters.runtime import ExchangeLog
from crm_adapters.service import IntegrationConfig
from seiketsu.db import new_id, utcnow
from seiketsu.leads.models import Appointment, Lead
from seiketsu.tenancy.scoping import tenant_session

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this run now owns, with everything needed to push it."""

    delivery_id: uuid.UUID
    token: str
    attempt: int
    created_at: datetime
    """When the delivery was created: no run of it can have written anything earlier."""
    integration: IntegrationConfig
    event: Mapping[str, Any]
    contact_remote_id: str | None
    lead: LeadInfo | None
    appointment: AppointmentInfo | None
    delivered: Mapping[tuple[RemoteKind, str], str]
    """CRM ids already recorded for this call's records (by an earlier run)."""


@dataclass(frozen=True, slots=True)
class Busy:
    """Another run holds the delivery's lease for ``retry_in`` more seconds."""

    retry_in: float


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _rowcount(result: sa.Result[Any]) -> int:
    return cast(sa.CursorResult[Any], result).rowcount


class DeliveryStore:
    """The delivery tables as one run of ``crm.deliver`` uses them, in the job's organization."""

    def __init__(self, sessions: sessionmaker[Session], organization_id: uuid.UUID, *, lease: timedelta) -> None:
        self._sessions = sessions
        self._organization_id = organization_id
        self._lease = lease

    def _session(self) -> Session:
        return tenant_session(self._sessions, self._organization_id)

    def claim(self, delivery_id: uuid.UUID) -> Claim | Busy | None:
        """Take the delivery's lease; ``None`` when it is gone or already settled."""
        with self._session() as session, session.begin():
            query = (
                sa.select(Delivery, Integration)
                .join(Integration, col(Integration.id) == col(Delivery.integration_id))
                .where(col(Delivery.id) == delivery_id)
                .with_for_update(of=Delivery)
            )
            row = session.execute(query).one_or_none()
            if row is None:
                return None
            delivery, integration = row
            if DeliveryStatus(delivery.status).is_final:
                return None
            now = utcnow()
            if delivery.lease_token and delivery.lease_expires_at and delivery.lease_expires_at > now:
                return Busy((delivery.lease_expires_at - now).total_seconds())
            token = secrets.token_hex(16)
            delivery.lease_token = token
            delivery.lease_expires_at = now + self._lease
            delivery.attempts += 1
            delivery.updated_at = now
            return Claim(
                delivery_id=delivery.id,
                token=token,
                attempt=delivery.attempts,
                created_at=delivery.created_at,
                integration=IntegrationConfig.of(integration),
                event=dict(delivery.event),
                contact_remote_id=delivery.contact_remote_id,
                lead=_lead(session, delivery.event.get("leadId")),
                appointment=_appointment(session, delivery.event.get("appointmentId")),
                delivered=_delivered(session, integration.id, local_ids(delivery.event)),
            )

    def record_step(
        self,
        claim: Claim,
        step: RemoteKind,
        *,
        local_id: str,
        remote_id: str,
        http_status: int | None,
        duration_ms: int,
    ) -> bool:
        """Store a step's CRM id and renew the lease; ``False`` when the lease is no longer this run's.

        The id is stored even then: the step did happen, and whoever holds the delivery now should skip it.
        """
        now = utcnow()
        with self._session() as session, session.begin():
            # statements rather than unit-of-work flushes: this runs after every step of every delivery
            session.execute(
                sa.insert(DeliveryAttempt).values(
                    id=new_id(),
                    organization_id=self._organization_id,
                    delivery_id=claim.delivery_id,
                    attempt=claim.attempt,
                    step=step.value,
                    succeeded=True,
                    http_status=http_status,
                    remote_id=remote_id,
                    duration_ms=duration_ms,
                    created_at=now,
                )
            )
            session.execute(
                _UPSERT_REMOTE[session.get_bind().dialect.name],
                {
                    "id": new_id(),
                    "organization_id": self._organization_id,
                    "integration_id": claim.integration.id,
                    "kind": step,
                    "local_id": local_id,
                    "remote_id": remote_id,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            ours = col(Delivery.lease_token) == claim.token
            values: dict[str, Any] = {
                "updated_at": now,
                "lease_expires_at": sa.case((ours, now + self._lease), else_=col(Delivery.lease_expires_at)),
            }
            if step is RemoteKind.CONTACT:
                values["contact_remote_id"] = remote_id
            holder = session.execute(
                sa.update(Delivery)
                .where(col(Delivery.id) == claim.delivery_id)
                .values(**values)
                .returning(col(Delivery.lease_token))
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            return holder == claim.token

    def record_failure(self, claim: Claim, step: RemoteKind, error: CRMError, *, duration_ms: int) -> None:
        with self._session() as session, session.begin():
            session.add(
                DeliveryAttempt(
                    delivery_id=claim.delivery_id,
                    attempt=claim.attempt,
                    step=step.value,
                    succeeded=False,
                    http_status=error.status,
                    error=str(error)[:MAX_ERROR_LENGTH],
                    vendor_code=(error.vendor_code or "")[:100] or None,
                    duration_ms=duration_ms,
                )
            )

    def settle(
        self,
        claim: Claim,
        status: DeliveryStatus,
        *,
        error: str | None = None,
        vendor_status: int | None = None,
        vendor_code: str | None = None,
    ) -> bool:
        """Set the delivery's status and release the lease, if this run still holds it."""
        now = utcnow()
        with self._session() as session, session.begin():
            result = session.execute(
                sa.update(Delivery)
                .where(col(Delivery.id) == claim.delivery_id, col(Delivery.lease_token) == claim.token)
                .values(
                    status=status,
                    last_error=error[:MAX_ERROR_LENGTH] if error else None,
                    vendor_status=vendor_status,
                    vendor_code=(vendor_code or "")[:100] or None,
                    lease_token=None,
                    lease_expires_at=None,
                    updated_at=now,
                    finished_at=now if status.is_final else None,
                )
            )
            return _rowcount(result) == 1


def _upsert_statement(insert: Callable[[type[RemoteRecord]], Any]) -> sa.Executable:
    statement = insert(RemoteRecord)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["integration_id", "kind", "local_id"],
        set_={"remote_id": statement.excluded.remote_id, "updated_at": statement.excluded.updated_at},
    )


_UPSERT_REMOTE: Mapping[str, sa.Executable] = MappingProxyType(
    {"postgresql": _upsert_statement(postgresql.insert), "sqlite": _upsert_statement(sqlite.insert)}
)
"""Insert a mapping, or point an existing one at the latest CRM id (a contact merged in the CRM); built once."""


def _delivered(
    session: Session, integration_id: uuid.UUID, ids: Collection[str]
) -> dict[tuple[RemoteKind, str], str]:
    rows = session.execute(
        sa.select(col(RemoteRecord.kind), col(RemoteRecord.local_id), col(RemoteRecord.remote_id)).where(
            col(RemoteRecord.integration_id) == integration_id, col(RemoteRecord.local_id).in_(ids)
        )
    )
    return {(RemoteKind(kind), local_id): remote_id for kind, local_id, remote_id in rows}


def _lead(session: Session, lead_id: object) -> LeadInfo | None:
    key = _uuid(lead_id) if lead_id else None
    lead = session.get(Lead, key) if key else None
    if lead is None:
        return None
    return LeadInfo(
        id=str(lead.id),
        phone=lead.phone,
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        source=lead.source,
    )


def _appointment(session: Session, appointment_id: object) -> AppointmentInfo | None:
    key = _uuid(appointment_id) if appointment_id else None
    appointment = session.get(Appointment, key) if key else None
    if appointment is None:
        return None
    return AppointmentInfo(id=str(appointment.id), starts_at=appointment.starts_at, notes=appointment.notes)


class DeliveryLedger:
    """The :class:`crm_adapters.delivery.Ledger` of one claimed run, backed by :class:`DeliveryStore`."""

    def __init__(self, store: DeliveryStore, claim: Claim, *, exchanges: ExchangeLog) -> None:
        self._store = store
        self._claim = claim
        self._delivered = dict(claim.delivered)
        self._contact_id = claim.contact_remote_id
        self._exchanges = exchanges

    def contact_id(self) -> str | None:
        return self._contact_id

    def recheck_since(self) -> datetime | None:
        # every earlier run ended without recording some step, and may have written it (lost answer, death)
        return self._claim.created_at if self._claim.attempt > 1 else None

    def remote_id(self, kind: RemoteKind, local_id: str) -> str | None:
        return self._delivered.get((kind, local_id))

    def succeeded(self, step: RemoteKind, *, local_id: str, remote_id: str, duration_ms: int) -> None:
        held = self._store.record_step(
            self._claim,
            step,
            local_id=local_id,
            remote_id=remote_id,
            http_status=self._exchanges.last_status,
            duration_ms=duration_ms,
        )
        self._delivered[(step, local_id)] = remote_id
        if step is RemoteKind.CONTACT:
            self._contact_id = remote_id
        if not held:
            raise LeaseLost(f"delivery {self._claim.delivery_id} was taken over by another worker")

    def failed(self, step: RemoteKind, error: CRMError, *, duration_ms: int) -> None:
        self._store.record_failure(self._claim, step, error, duration_ms=duration_ms)
