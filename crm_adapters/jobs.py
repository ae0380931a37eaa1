"""The jobs that take a finished call to every CRM the organization connected.

``crm.fan_out`` runs on each ``call.completed`` event and creates one delivery, with its ``crm.deliver`` job, per
enabled integration (in one transaction, so a re-run adds only what is missing). ``crm.deliver`` pushes the call
and decides what a failure means:

* a retryable CRM error (429, 5xx, timeout, connection) -> the job runs again after the vendor's ``Retry-After``,
  or exponential backoff with jitter; after ``max_attempts`` runs the delivery is dead;
* a permanent one (validation, credentials no refresh can fix, not found) -> dead at once, with the vendor's message;
* no free request slot soon enough, or another worker holding the delivery -> the job comes back when it frees.

Delivery is at least once (the kernel's outbox); the steps recorded by :mod:`crm_adapters.delivery` make it
effectively once.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from crm_adapters.delivery import LeaseLost, push
from crm_adapters.delivery_store import Busy, Claim, DeliveryLedger, DeliveryStore
from crm_adapters.errors import CRMError, CRMQuotaExhaustedError, PermanentCRMError, RetryableCRMError
from crm_adapters.models import Delivery, DeliveryStatus, Integration
from crm_adapters.outcome_plan import CallCompleted, DeliveryPlan, InvalidEvent, build_plan
from crm_adapters.runtime import CRMRuntime, crm_runtime
from crm_adapters.service import DELIVER_JOB, enqueue_delivery, open_crm
from crm_adapters.throttle import ThrottleUnavailable, ThrottleWait
from seiketsu.db import utcnow
from seiketsu.jobs.registry import JobContext, PermanentFailure, RetryLater
from seiketsu.jobs.runner import backoff_delay
from seiketsu.tenancy.scoping import tenant_session

logger = logging.getLogger(__name__)

FAN_OUT_JOB = "crm.fan_out"
CALL_COMPLETED = "call.completed"

__all__ = ["CALL_COMPLETED", "DELIVER_JOB", "FAN_OUT_JOB", "deliver", "fan_out", "has_enabled_integration"]


def has_enabled_integration(session: Session, organization_id: uuid.UUID, payload: Mapping[str, Any]) -> bool:
    """The fan-out's relevance check: an organization without an enabled integration gets no job."""
    query = sa.select(col(Integration.id)).where(
        col(Integration.organization_id) == organization_id, col(Integration.enabled).is_(True)
    )
    return session.scalar(query.limit(1)) is not None


def fan_out(context: JobContext) -> None:
    """One delivery per enabled integration of the organization that has none for this call yet."""
    try:
        event = CallCompleted.from_payload(context.payload)
    except InvalidEvent as exc:
        raise PermanentFailure(f"unusable call.completed event: {exc}") from exc
    runtime = crm_runtime(context.container)
    with tenant_session(context.container.sessions, context.organization_id) as session:
        integrations = session.scalars(
            sa.select(Integration).where(col(Integration.enabled).is_(True)).order_by(col(Integration.created_at))
        ).all()
        if not integrations:
            return
        covered = set(
            session.scalars(sa.select(col(Delivery.integration_id)).where(col(Delivery.call_id) == event.call_id))
        )
        for integration in integrations:
            if integration.id in covered:
                continue
            delivery = Delivery(integration_id=integration.id, call_id=event.call_id, event=dict(context.payload))
            session.add(delivery)
            enqueue_delivery(session, context.container.jobs, delivery, max_attempts=runtime.max_attempts)
        session.commit()


def _delivery_id(context: JobContext) -> uuid.UUID:
    try:
        return uuid.UUID(str(context.payload["deliveryId"]))
    except (KeyError, ValueError) as exc:
        raise PermanentFailure("crm.deliver needs a deliveryId") from exc


def _plan(claim: Claim) -> DeliveryPlan:
    event = CallCompleted.from_payload(claim.event)
    return build_plan(event, lead=claim.lead, appointment=claim.appointment, now=utcnow())


def _backoff(runtime: CRMRuntime, attempt: int) -> float:
    return backoff_delay(attempt, base=runtime.backoff_base, maximum=runtime.backoff_max, rng=random.Random())


def _retry_delay(runtime: CRMRuntime, error: RetryableCRMError, attempt: int) -> float:
    """The vendor's ``Retry-After`` where it gave one, else backoff (a spent daily budget: an hour at least)."""
    if error.retry_after is not None:
        return error.retry_after
    delay = _backoff(runtime, attempt)
    if isinstance(error, CRMQuotaExhaustedError):
        return max(delay, runtime.quota_pause)
    return delay


async def deliver(context: JobContext) -> None:
    """Push one delivery's remaining steps; see the module docstring for what each failure leads to."""
    runtime = crm_runtime(context.container)
    store = DeliveryStore(context.container.sessions, context.organization_id, lease=runtime.delivery_lease)
    claimed = store.claim(_delivery_id(context))
    if claimed is None:
        return
    if isinstance(claimed, Busy):
        _come_back(context, runtime, "another worker is pushing this delivery", delay=claimed.retry_in)
        return
    claim = claimed
    if not claim.integration.enabled:
        store.settle(claim, DeliveryStatus.DEAD, error="the integration is disabled; enable it and re-drive")
        return
    try:
        plan = _plan(claim)
    except InvalidEvent as exc:
        store.settle(claim, DeliveryStatus.DEAD, error=f"unusable call.completed event: {exc}")
        raise PermanentFailure(f"unusable call.completed event: {exc}") from exc
    try:
        await _push(runtime, context, store, claim, plan)
    except LeaseLost as exc:
        _come_back(context, runtime, str(exc), delay=runtime.delivery_lease.total_seconds())
    except ThrottleWait as exc:
        store.settle(claim, DeliveryStatus.RETRYING, error=str(exc))
        _come_back(context, runtime, str(exc), delay=exc.wait)
    except ThrottleUnavailable as exc:
        store.settle(claim, DeliveryStatus.RETRYING, error=str(exc))
        _come_back(context, runtime, str(exc), delay=_backoff(runtime, context.attempt))
    except RetryableCRMError as exc:
        _give_up_or_retry(runtime, store, claim, exc, context.attempt)
    except PermanentCRMError as exc:
        _dead(store, claim, exc)
        raise PermanentFailure(str(exc)) from exc
    except Exception as exc:
        # A bug or an outage outside the CRM: the kernel retries the job, or buries it after its last attempt.
        logger.exception("delivery %s to integration %s failed", claim.delivery_id, claim.integration.id)
        last = context.attempt >= runtime.max_attempts
        status = DeliveryStatus.DEAD if last else DeliveryStatus.RETRYING
        store.settle(claim, status, error=f"internal error ({type(exc).__name__})")
        raise
    else:
        store.settle(claim, DeliveryStatus.SUCCEEDED)


def _come_back(context: JobContext, runtime: CRMRuntime, reason: str, *, delay: float) -> None:
    """Run the delivery again after ``delay``: nothing failed, so the last attempt hands over to a fresh job."""
    if context.attempt < runtime.max_attempts:
        raise RetryLater(reason, delay=delay)
    with tenant_session(context.container.sessions, context.organization_id) as session:
        context.container.jobs.enqueue(
            session,
            DELIVER_JOB,
            dict(context.payload),
            delay=timedelta(seconds=delay),
            max_attempts=runtime.max_attempts,
        )
        session.commit()


async def _push(
    runtime: CRMRuntime, context: JobContext, store: DeliveryStore, claim: Claim, plan: DeliveryPlan
) -> None:
    async with open_crm(runtime, context.container.sessions, claim.integration) as (crm, exchanges):
        ledger = DeliveryLedger(store, claim, exchanges=exchanges)
        sent = await push(plan, crm, ledger)
    logger.info(
        "delivered call %s to %s integration %s (%s)",
        plan.call.call_id,
        claim.integration.crm_type,
        claim.integration.id,
        ", ".join(step.value for step in sent) or "nothing left to send",
    )


def _dead(store: DeliveryStore, claim: Claim, error: CRMError, *, prefix: str = "") -> None:
    logger.warning("delivery %s is dead: %s%s", claim.delivery_id, prefix, error)
    store.settle(
        claim,
        DeliveryStatus.DEAD,
        error=f"{prefix}{error}",
        vendor_status=error.status,
        vendor_code=error.vendor_code,
    )


def _give_up_or_retry(
    runtime: CRMRuntime, store: DeliveryStore, claim: Claim, error: RetryableCRMError, attempt: int
) -> None:
    if attempt >= runtime.max_attempts:
        prefix = f"gave up after {attempt} attempts: "
        _dead(store, claim, error, prefix=prefix)
        raise PermanentFailure(f"{prefix}{error}") from error
    store.settle(
        claim, DeliveryStatus.RETRYING, error=str(error), vendor_status=error.status, vendor_code=error.vendor_code
    )
    raise RetryLater(str(error), delay=_retry_delay(runtime, error, attempt)) from error

