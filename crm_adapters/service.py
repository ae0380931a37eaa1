"""Integrations as a service: checking a configuration, sealing credentials, opening the CRM, re-driving deliveries.

Credentials exist in the clear only inside :func:`open_crm` and while a request body is validated; they are
never logged, and every message raised here names credential keys, never values.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from crm_adapters.errors import (
    CRMAuthError,
    CRMConfigError,
    CRMError,
    CRMQuotaExhaustedError,
    PermanentCRMError,
    RetryableCRMError,
)
from crm_adapters.factory import build_adapter, destination_settings
from crm_adapters.interfaces import CRMAdapter
from crm_adapters.models import Delivery, DeliveryStatus, Integration
from crm_adapters.runtime import CRMRuntime, ExchangeLog, vendor_http
from crm_adapters.throttle import RequestLimit, ThrottleUnavailable, ThrottleWait, limit_for
from seiketsu.crypto import SecretBox, SecretBoxError
from seiketsu.db import utcnow
from seiketsu.jobs.queue import JobQueue
from seiketsu.tenancy.scoping import tenant_session

logger = logging.getLogger(__name__)

DELIVER_JOB = "crm.deliver"


@dataclass(frozen=True, slots=True)
class IntegrationConfig:
    """An integration as delivery needs it, detached from any session; credentials still sealed."""

    id: uuid.UUID
    organization_id: uuid.UUID
    crm_type: str
    sealed_credentials: str = field(repr=False)
    settings: Mapping[str, str]
    field_mapping: Mapping[str, str | None]
    outcome_mapping: Mapping[str, str | None]
    limit: RequestLimit
    enabled: bool

    @classmethod
    def of(cls, integration: Integration) -> IntegrationConfig:
        return cls(
            id=integration.id,
            organization_id=integration.organization_id,
            crm_type=integration.crm_type,
            sealed_credentials=integration.credentials,
            settings=dict(integration.settings),
            field_mapping=dict(integration.field_mapping),
            outcome_mapping=dict(integration.outcome_mapping),
            limit=limit_for(
                integration.crm_type,
                requests=integration.rate_limit_requests,
                window_seconds=integration.rate_limit_window_seconds,
            ),
            enabled=integration.enabled,
        )

    @property
    def throttle_key(self) -> str:
        return f"{self.organization_id}:{self.id}"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """What is wrong with a configuration, and which part of it (``credentials``, ``settings``, ...)."""

    part: str
    message: str


def check_config(
    crm_type: str,
    *,
    credentials: Mapping[str, str],
    settings: Mapping[str, str],
    field_mapping: Mapping[str, str | None],
    outcome_mapping: Mapping[str, str | None],
) -> ConfigProblem | None:
    """What the vendor's adapter rejects in the configuration, and in which part, adding one part at a time.

    Building an adapter sends nothing, so this runs on every create and update.
    """
    http = httpx.AsyncClient(transport=httpx.MockTransport(_refuse))
    no_mapping: Mapping[str, str | None] = {}
    stages: tuple[tuple[str | None, Mapping[str, str | None], Mapping[str, str | None]], ...] = (
        (None, no_mapping, no_mapping),  # credentials and settings: told apart by the message
        ("fieldMapping", field_mapping, no_mapping),
        ("outcomeMapping", field_mapping, outcome_mapping),
    )
    for part, fields, outcomes in stages:
        try:
            build_adapter(
                crm_type,
                credentials=credentials,
                http=http,
                settings=settings,
                field_mapping=fields,
                outcome_mapping=outcomes,
            )
        except CRMConfigError as exc:
            if exc.field is not None:
                part = exc.field
            elif part is None:
                part = "credentials" if exc.message.startswith("missing credentials") else "settings"
            return ConfigProblem(part, exc.message)
    return None


def moved_destination(crm_type: str, before: Mapping[str, str], after: Mapping[str, str]) -> str | None:
    """The first setting whose change would send the stored credentials to another host, if any: such a change
    needs the credentials again, so that no one can redirect credentials they cannot read."""
    for name in destination_settings(crm_type):
        if before.get(name) != after.get(name):
            return name
    return None


def _refuse(request: httpx.Request) -> httpx.Response:
    raise RuntimeError("configuration checks never send requests")


def seal_credentials(box: SecretBox, credentials: Mapping[str, str]) -> tuple[str, list[str]]:
    """The sealed credentials and their key names (stored in the clear for display)."""
    return box.encrypt(dict(credentials)), sorted(credentials)


def open_credentials(box: SecretBox, sealed: str) -> dict[str, str]:
    value = box.decrypt(sealed)
    if not isinstance(value, dict):
        raise SecretBoxError("stored credentials are not a mapping")
    return {str(key): str(item) for key, item in value.items()}


def store_refreshed_credentials(
    sessions: sessionmaker[Session], box: SecretBox, config: IntegrationConfig, credentials: Mapping[str, str]
) -> None:
    """Persist credentials an OAuth refresh produced; a rotated refresh token is lost if this is skipped."""
    sealed, keys = seal_credentials(box, credentials)
    with tenant_session(sessions, config.organization_id) as session:
        session.execute(
            sa.update(Integration)
            .where(col(Integration.id) == config.id)
            .values(credentials=sealed, credential_keys=keys, updated_at=utcnow())
        )
        session.commit()
    logger.info("stored refreshed %s credentials of integration %s", config.crm_type, config.id)


@asynccontextmanager
async def open_crm(
    runtime: CRMRuntime, sessions: sessionmaker[Session], config: IntegrationConfig
) -> AsyncIterator[tuple[CRMAdapter, ExchangeLog]]:
    """The integration's adapter over a throttled client; refreshed credentials are sealed and stored.

    Raises :class:`CRMConfigError` when the stored credentials cannot be decrypted or the configuration is
    no longer valid.
    """
    try:
        credentials = open_credentials(runtime.secret_box, config.sealed_credentials)
    except SecretBoxError as exc:
        raise CRMConfigError(
            "stored credentials cannot be decrypted with the current or previous secret keys; enter them again",
            vendor=config.crm_type,
        ) from exc

    async def persist(refreshed: Mapping[str, str]) -> None:
        # a database wait must not stall the event loop (the API's, answering other requests meanwhile)
        await asyncio.to_thread(store_refreshed_credentials, sessions, runtime.secret_box, config, refreshed)

    async with vendor_http(runtime, throttle_key=config.throttle_key, limit=config.limit) as (http, log):
        adapter = build_adapter(
            config.crm_type,
            credentials=credentials,
            http=http,
            settings=config.settings,
            field_mapping=config.field_mapping,
            outcome_mapping=config.outcome_mapping,
            on_credentials_refreshed=persist,
            clock=runtime.clock,
            base_url=runtime.base_urls.get(config.crm_type),
        )
        yield adapter, log


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    error: str | None = None
    """What kind of failure: one of :data:`CONNECTION_ERRORS`' classes."""
    message: str | None = None
    vendor_status: int | None = None
    retryable: bool | None = None


CONNECTION_ERRORS: tuple[tuple[type[Exception], str, str | None], ...] = (
    (CRMConfigError, "configuration", None),
    (CRMAuthError, "credentials_rejected", "the CRM rejected the credentials"),
    (CRMQuotaExhaustedError, "quota_exhausted", "the CRM account's request budget is spent for now"),
    (RetryableCRMError, "unavailable", "the CRM did not answer, failed, or asked to slow down; try again later"),
    (PermanentCRMError, "refused", "the CRM refused the request"),
    (ThrottleWait, "throttled", None),
    (ThrottleUnavailable, "throttled", None),
)
"""Failure -> (class, message), first match wins. A ``None`` message keeps the error's own, which we wrote; what
the CRM answered is never repeated (its status aside), so the test cannot read out whatever a URL answers."""


async def check_connection(
    runtime: CRMRuntime, sessions: sessionmaker[Session], config: IntegrationConfig
) -> ConnectionCheck:
    """One cheap authenticated read against the CRM; a failure is reported by class, status and retryability."""
    try:
        async with open_crm(runtime, sessions, config) as (crm, _):
            await crm.test_connection()
    except (CRMError, ThrottleWait, ThrottleUnavailable) as exc:
        kind, message = next((kind, message) for error, kind, message in CONNECTION_ERRORS if isinstance(exc, error))
        if message is None:
            message = exc.message if isinstance(exc, CRMError) else str(exc)
        return ConnectionCheck(
            ok=False,
            error=kind,
            message=message,
            vendor_status=exc.status if isinstance(exc, CRMError) else None,
            retryable=isinstance(exc, (RetryableCRMError, ThrottleWait, ThrottleUnavailable)),
        )
    return ConnectionCheck(ok=True)


def rotate_credentials(session: Session, box: SecretBox) -> int:
    """Re-encrypt every integration's credentials in the session's scope under the current key; returns how many
    changed. Run after moving ``SECRET_KEY`` to ``SECRET_KEY_PREVIOUS``, then the old key can be dropped."""
    rotated = 0
    for integration in session.scalars(sa.select(Integration)):
        if not box.is_current(integration.credentials):
            integration.credentials = box.rotate(integration.credentials)
            integration.updated_at = utcnow()
            rotated += 1
    return rotated


def enqueue_delivery(session: Session, jobs: JobQueue, delivery: Delivery, *, max_attempts: int) -> None:
    jobs.enqueue(
        session,
        DELIVER_JOB,
        {"deliveryId": str(delivery.id)},
        organization_id=delivery.organization_id,
        max_attempts=max_attempts,
    )


def redrive(session: Session, jobs: JobQueue, delivery: Delivery, *, max_attempts: int) -> None:
    """Give a dead delivery a fresh job now; the steps it already completed are not sent again."""
    now = utcnow()
    delivery.status = DeliveryStatus.PENDING
    delivery.last_error = None
    delivery.vendor_status = None
    delivery.vendor_code = None
    delivery.finished_at = None
    delivery.lease_token = None
    delivery.lease_expires_at = None
    delivery.updated_at = now
    enqueue_delivery(session, jobs, delivery, max_attempts=max_attempts)
