"""Pushing one call to one CRM, step by step, resuming after whatever step a previous run completed.

The order is fixed: the contact (everything else hangs off it), the call log, then the follow-up task and the
appointment. Each step's CRM id is recorded the moment the CRM answers, so a retry, a re-driven delivery or a
second worker after a crash skips it. What no local record can cover is a write whose answer never arrived: a
run after an earlier one that ended without recording a step hands the adapter ``recheck_since``, and the adapter
finds what that earlier run may have written (an external-id upsert, or a search by our marker; see
``interfaces``) before creating it again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from crm_adapters.errors import CRMError
from crm_adapters.interfaces import CRMAdapter
from crm_adapters.models import RemoteKind
from crm_adapters.outcome_plan import DeliveryPlan


class LeaseLost(Exception):
    """Another worker took the delivery over (this one was presumed dead); it must stop sending."""


class Ledger(Protocol):
    """Where a delivery's progress is kept; the database in production."""

    def contact_id(self) -> str | None:
        """The CRM id of the contact this delivery already upserted."""

    def recheck_since(self) -> datetime | None:
        """When an earlier run began that may have written steps whose answers were lost; ``None`` on a first run."""

    def remote_id(self, kind: RemoteKind, local_id: str) -> str | None:
        """The CRM id of the record already made from our ``local_id``, if any."""

    def succeeded(self, step: RemoteKind, *, local_id: str, remote_id: str, duration_ms: int) -> None:
        """Record a completed step; raises :class:`LeaseLost`, after recording, if the delivery is no longer ours."""

    def failed(self, step: RemoteKind, error: CRMError, *, duration_ms: int) -> None:
        """Record a step the CRM refused or did not answer."""


async def _step(
    ledger: Ledger,
    step: RemoteKind,
    local_id: str,
    action: Callable[[], Awaitable[str]],
    timer: Callable[[], float],
) -> str:
    started = timer()
    try:
        remote_id = await action()
    except CRMError as exc:
        ledger.failed(step, exc, duration_ms=round((timer() - started) * 1000))
        raise
    ledger.succeeded(step, local_id=local_id, remote_id=remote_id, duration_ms=round((timer() - started) * 1000))
    return remote_id


async def push(
    plan: DeliveryPlan, crm: CRMAdapter, ledger: Ledger, *, timer: Callable[[], float] = time.perf_counter
) -> list[RemoteKind]:
    """Send the steps of ``plan`` that ``ledger`` does not hold yet; returns the steps sent.

    Raises the adapter's :class:`CRMError` of the first step that fails, and :class:`LeaseLost`.
    """
    sent: list[RemoteKind] = []
    since = ledger.recheck_since()
    contact_id = ledger.contact_id()
    if contact_id is None:
        contact = plan.contact
        contact_id = await _step(
            ledger,
            RemoteKind.CONTACT,
            contact.lead_id,
            lambda: crm.upsert_contact(contact, recheck_since=since),
            timer,
        )
        sent.append(RemoteKind.CONTACT)
    owner = contact_id

    call = plan.call
    if ledger.remote_id(RemoteKind.CALL, call.call_id) is None:
        await _step(
            ledger,
            RemoteKind.CALL,
            call.call_id,
            lambda: crm.log_call(call, contact_id=owner, recheck_since=since),
            timer,
        )
        sent.append(RemoteKind.CALL)

    task = plan.task
    if task is not None and ledger.remote_id(RemoteKind.TASK, task.task_id) is None:
        await _step(
            ledger,
            RemoteKind.TASK,
            task.task_id,
            lambda: crm.create_task(task, contact_id=owner, recheck_since=since),
            timer,
        )
        sent.append(RemoteKind.TASK)

    appointment = plan.appointment
    if appointment is not None and ledger.remote_id(RemoteKind.APPOINTMENT, appointment.appointment_id) is None:
        await _step(
            ledger,
            RemoteKind.APPOINTMENT,
            appointment.appointment_id,
            lambda: crm.create_appointment(appointment, contact_id=owner, recheck_since=since),
            timer,
        )
        sent.append(RemoteKind.APPOINTMENT)
    return sent
