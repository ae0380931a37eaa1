"""Routes: /api/v1/integrations (CRM connections), their connection test, deliveries and re-drives."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from crm_adapters import service
from crm_adapters.models import Delivery, DeliveryAttempt, DeliveryStatus, Integration
from crm_adapters.runtime import crm_runtime
from crm_adapters.schemas import (
    ConnectionTestOut,
    DeliveryAttemptOut,
    DeliveryOut,
    IntegrationIn,
    IntegrationOut,
    IntegrationUpdate,
    RateLimitOut,
)
from crm_adapters.service import ConfigProblem, IntegrationConfig
from seiketsu.auth.deps import Principal, get_container, require, scoped_session
from seiketsu.auth.rbac import Permission
from seiketsu.container import Container
from seiketsu.crypto import SecretBoxError
from seiketsu.db import utcnow
from seiketsu.errors import Conflict, FieldError, NotFound, ValidationFailed
from seiketsu.pagination import DEFAULT_LIMIT, MAX_LIMIT, datetime_field, paginate, parse_sort
from seiketsu.schemas import Page
from seiketsu.tenancy.scoping import tenant_session

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])

INTEGRATION_SORT = {f.name: f for f in (datetime_field("createdAt", Integration.created_at),)}
DELIVERY_SORT = {f.name: f for f in (datetime_field("createdAt", Delivery.created_at),)}


def get_integration(session: Session, integration_id: uuid.UUID) -> Integration:
    integration = session.get(Integration, integration_id)
    if integration is None:
        raise NotFound("integration not found")
    return integration


def integration_out(integration: Integration) -> IntegrationOut:
    config = IntegrationConfig.of(integration)
    return IntegrationOut(
        id=integration.id,
        crm_type=integration.crm_type,
        name=integration.name,
        enabled=integration.enabled,
        has_credentials=bool(integration.credentials),
        credential_keys=list(integration.credential_keys),
        field_mapping=dict(integration.field_mapping),
        outcome_mapping=dict(integration.outcome_mapping),
        settings=dict(integration.settings),
        rate_limit=RateLimitOut(
            requests=config.limit.requests,
            window_seconds=config.limit.window_seconds,
            is_default=integration.rate_limit_requests is None,
        ),
        created_at=integration.created_at,
        updated_at=integration.updated_at,
    )


def _check(
    crm_type: str,
    *,
    credentials: dict[str, str],
    settings: dict[str, str],
    field_mapping: dict[str, str | None],
    outcome_mapping: dict[str, str | None],
) -> None:
    problem: ConfigProblem | None = service.check_config(
        crm_type,
        credentials=credentials,
        settings=settings,
        field_mapping=field_mapping,
        outcome_mapping=outcome_mapping,
    )
    if problem is not None:
        raise ValidationFailed([FieldError(f"body.{problem.part}", problem.message)])


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("an integration with this name already exists") from exc


@router.get("", response_model=Page[IntegrationOut])
def list_integrations(
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.INTEGRATION_READ)),
    session: Session = Depends(scoped_session),
) -> Page[IntegrationOut]:
    keys = parse_sort(None, INTEGRATION_SORT, default="-createdAt")
    rows, next_cursor = paginate(
        session, sa.select(Integration), keys=keys, id_column=Integration.id, limit=limit, cursor=cursor
    )
    return Page(items=[integration_out(row) for row in rows], next_cursor=next_cursor)


@router.post("", response_model=IntegrationOut, status_code=201)
def create_integration(
    body: IntegrationIn,
    _: Principal = Depends(require(Permission.INTEGRATION_CREATE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> IntegrationOut:
    credentials = {key: secret.get_secret_value() for key, secret in body.credentials.items()}
    _check(
        body.crm_type,
        credentials=credentials,
        settings=body.settings,
        field_mapping=body.field_mapping,
        outcome_mapping=body.outcome_mapping,
    )
    sealed, keys = service.seal_credentials(crm_runtime(container).secret_box, credentials)
    integration = Integration(
        crm_type=body.crm_type,
        name=body.name,
        credentials=sealed,
        credential_keys=keys,
        field_mapping=body.field_mapping,
        outcome_mapping=body.outcome_mapping,
        settings=body.settings,
        rate_limit_requests=body.rate_limit.requests if body.rate_limit else None,
        rate_limit_window_seconds=body.rate_limit.window_seconds if body.rate_limit else None,
        enabled=body.enabled,
    )
    session.add(integration)
    _commit(session)
    return integration_out(integration)


@router.get("/{integration_id}", response_model=IntegrationOut)
def read_integration(
    integration_id: uuid.UUID,
    _: Principal = Depends(require(Permission.INTEGRATION_READ)),
    session: Session = Depends(scoped_session),
) -> IntegrationOut:
    return integration_out(get_integration(session, integration_id))


@router.put("/{integration_id}", response_model=IntegrationOut)
def update_integration(
    integration_id: uuid.UUID,
    body: IntegrationUpdate,
    _: Principal = Depends(require(Permission.INTEGRATION_UPDATE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> IntegrationOut:
    integration = get_integration(session, integration_id)
    box = crm_runtime(container).secret_box
    given = body.model_fields_set
    if given & {"credentials", "settings", "field_mapping", "outcome_mapping"}:
        if body.credentials is not None:
            credentials = {key: secret.get_secret_value() for key, secret in body.credentials.items()}
        else:
            try:
                credentials = service.open_credentials(box, integration.credentials)
            except SecretBoxError as exc:
                raise Conflict("the stored credentials cannot be decrypted; send them again") from exc
        settings = body.settings if body.settings is not None else integration.settings
        moved = service.moved_destination(integration.crm_type, integration.settings, settings)
        if moved is not None and body.credentials is None:
            raise ValidationFailed(
                [
                    FieldError(
                        f"body.settings.{moved}",
                        f"changing {moved} changes where the credentials are sent: send the credentials with it",
                    )
                ]
            )
        field_mapping = body.field_mapping if body.field_mapping is not None else integration.field_mapping
        outcome_mapping = body.outcome_mapping if body.outcome_mapping is not None else integration.outcome_mapping
        _check(
            integration.crm_type,
            credentials=credentials,
            settings=settings,
            field_mapping=field_mapping,
            outcome_mapping=outcome_mapping,
        )
        if body.credentials is not None:
            integration.credentials, integration.credential_keys = service.seal_credentials(box, credentials)
        integration.settings = dict(settings)
        integration.field_mapping = dict(field_mapping)
        integration.outcome_mapping = dict(outcome_mapping)
    if body.name is not None:
        integration.name = body.name
    if body.enabled is not None:
        integration.enabled = body.enabled
    if "rate_limit" in given:
        integration.rate_limit_requests = body.rate_limit.requests if body.rate_limit else None
        integration.rate_limit_window_seconds = body.rate_limit.window_seconds if body.rate_limit else None
    integration.updated_at = utcnow()
    _commit(session)
    return integration_out(integration)


@router.delete("/{integration_id}", status_code=204)
def delete_integration(
    integration_id: uuid.UUID,
    _: Principal = Depends(require(Permission.INTEGRATION_DELETE)),
    session: Session = Depends(scoped_session),
) -> Response:
    session.delete(get_integration(session, integration_id))
    session.commit()
    return Response(status_code=204)


def _connection_config(container: Container, principal: Principal, integration_id: uuid.UUID) -> IntegrationConfig:
    with tenant_session(container.sessions, principal.organization_id) as session:
        return IntegrationConfig.of(get_integration(session, integration_id))


@router.post("/{integration_id}/test", response_model=ConnectionTestOut)
async def test_integration(
    integration_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.INTEGRATION_UPDATE)),
    container: Container = Depends(get_container),
) -> ConnectionTestOut:
    """One authenticated read against the CRM; ``ok`` false carries the class of failure, never the answer.

    The integration is read in a transaction of its own that ends before the CRM is called: a session held
    open across the call would keep SQLite's write lock from the refreshed token's storing.
    """
    config = await run_in_threadpool(_connection_config, container, principal, integration_id)
    result = await service.check_connection(crm_runtime(container), container.sessions, config)
    return ConnectionTestOut(
        ok=result.ok,
        error=result.error,
        message=result.message,
        vendor_status=result.vendor_status,
        retryable=result.retryable,
    )


def _deliveries_out(session: Session, deliveries: list[Delivery]) -> list[DeliveryOut]:
    attempts: dict[uuid.UUID, list[DeliveryAttempt]] = {delivery.id: [] for delivery in deliveries}
    if deliveries:
        rows = session.scalars(
            sa.select(DeliveryAttempt)
            .where(col(DeliveryAttempt.delivery_id).in_(list(attempts)))
            .order_by(col(DeliveryAttempt.attempt), col(DeliveryAttempt.created_at))
        )
        for row in rows:
            attempts[row.delivery_id].append(row)
    return [_delivery_out(delivery, attempts[delivery.id]) for delivery in deliveries]


def _delivery_out(delivery: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryOut:
    remote_ids = {attempt.step: attempt.remote_id for attempt in attempts if attempt.succeeded and attempt.remote_id}
    if delivery.contact_remote_id:
        remote_ids["contact"] = delivery.contact_remote_id
    return DeliveryOut(
        id=delivery.id,
        integration_id=delivery.integration_id,
        call_id=delivery.call_id,
        status=delivery.status,
        attempt_count=delivery.attempts,
        last_error=delivery.last_error,
        vendor_status=delivery.vendor_status,
        vendor_code=delivery.vendor_code,
        remote_ids=remote_ids,
        attempts=[DeliveryAttemptOut.model_validate(attempt) for attempt in attempts],
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        finished_at=delivery.finished_at,
    )


@router.get("/{integration_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    integration_id: uuid.UUID,
    status: DeliveryStatus | None = Query(default=None),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=1000),
    _: Principal = Depends(require(Permission.INTEGRATION_READ)),
    session: Session = Depends(scoped_session),
) -> Page[DeliveryOut]:
    """The integration's deliveries, newest first, each with every step it attempted."""
    get_integration(session, integration_id)
    query: sa.Select[Any] = sa.select(Delivery).where(col(Delivery.integration_id) == integration_id)
    if status is not None:
        query = query.where(col(Delivery.status) == status)
    keys = parse_sort(None, DELIVERY_SORT, default="-createdAt")
    rows, next_cursor = paginate(session, query, keys=keys, id_column=Delivery.id, limit=limit, cursor=cursor)
    return Page(items=_deliveries_out(session, list(rows)), next_cursor=next_cursor)


@router.post("/{integration_id}/deliveries/{delivery_id}/redrive", response_model=DeliveryOut)
def redrive_delivery(
    integration_id: uuid.UUID,
    delivery_id: uuid.UUID,
    _: Principal = Depends(require(Permission.INTEGRATION_UPDATE)),
    session: Session = Depends(scoped_session),
    container: Container = Depends(get_container),
) -> DeliveryOut:
    """Send a dead delivery again, now; the steps it completed before are not repeated."""
    integration = get_integration(session, integration_id)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.integration_id != integration.id:
        raise NotFound("delivery not found")
    if delivery.status != DeliveryStatus.DEAD:
        raise Conflict(f"only dead deliveries can be re-driven; this one is {delivery.status}")
    if not integration.enabled:
        raise Conflict("the integration is disabled; enable it before re-driving its deliveries")
    service.redrive(session, container.jobs, delivery, max_attempts=crm_runtime(container).max_attempts)
    session.commit()
    return _deliveries_out(session, [delivery])[0]
