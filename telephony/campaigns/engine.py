"""The campaign dialer: one pacing tick, as an RQ job that queues its successor.

A tick runs in three steps:

1. **Plan** (one transaction, the campaign row locked): check that the tick is current (its sequence number is the
   campaign's; a duplicate or stale tick does nothing) and the campaign running; now and then, recover claims of
   ticks that died; find the first open slot (pacing cursor, calling schedule); claim up to one window of due
   leads, bounded by the campaign's and the organization's free lines, with a conditional ``UPDATE ... WHERE
   status = 'pending'`` on rows selected ``FOR UPDATE SKIP LOCKED`` (so two workers never claim one lead); advance
   the cursor; and queue the next tick, in the same transaction, due ``lead`` before its first slot. A tick is
   therefore never lost to a crash: the next one is committed with the claim, and claims older than their lease
   are released.
2. **Ask the gate** about each claimed lead at its planned slot, in one batch (``check_many`` with permits; a
   slot is at most a few seconds away), then, holding the organization's admission lock, reserve a call for each
   allowed lead while a line is free. A lead outside its
   calling window goes back to pending until ``nextAllowedAt``; any other block marks it blocked, with the
   decision's id.
3. **Dispatch**: hand the reserved calls to the process's dial dispatcher (``telephony.campaigns.dispatch``) and
   end the job; the dispatcher sleeps until each reserved call's slot and places it (``OutboundDialer``, which
   verifies the permit); Twilio's answer is recorded as it comes, without holding up the next slot.

Outcomes come back through ``call.completed`` (``telephony.campaigns.outcomes``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from compliance.audit import Requester
from compliance.deps import gate_of
from compliance.events import publish_blocked
from compliance.fact_store import CheckRequest
from compliance.permits import DialPermit, PermitError
from compliance.service import GateResult, GateUnavailable
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.db import utcnow
from seiketsu.jobs.registry import JobContext
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import tenant_session
from telephony.calls import STALE_CALL_AFTER, active_calls, lock_call_admission
from telephony.campaigns.models import ACTIVE_LEAD_STATUSES, Campaign, CampaignLead, CampaignLeadStatus, CampaignStatus
from telephony.campaigns.pacing import PacingConfig, dial_interval, plan_slots, tick_due
from telephony.campaigns.schedule import CallingSchedule
from telephony.campaigns.service import TICK_JOB
from telephony.models import Call, CallOutcome, CallStatus
from telephony.outbound import (
    CallbackUrls,
    NoOutboundNumber,
    OutboundDialer,
    Placement,
    blocked_reason,
    choose_from_number,
    new_outbound_call,
    outbound_numbers,
    record_not_placed,
    record_placed,
)
from telephony.outbound_runtime import outbound_runtime
from telephony.rest_clients import job_twilio_client
from telephony.twilio_rest import InvalidPhoneNumber, TwilioApiError, TwilioError, TwilioUnavailable

logger = logging.getLogger(__name__)

REQUESTER = Requester.system("dialer")
RECOVER_EVERY = 30
"""Ticks between two looks for leads held by ticks that died (the claim lease is minutes long anyway)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A campaign lead taken by one tick: its row, its lead and the number to dial."""

    id: uuid.UUID
    lead_id: uuid.UUID
    phone: str


@dataclass(frozen=True, slots=True)
class _Plan:
    campaign_id: uuid.UUID
    organization_id: uuid.UUID
    purpose: Purpose
    slots: list[datetime]
    """The slot planned for each claim, in the same order: the gate is asked about that moment."""
    claims: list[Claim]
    cursor: datetime | None
    """The pacing cursor this tick left behind (to take back the slots of leads that were not dialed)."""


@dataclass(frozen=True, slots=True)
class _Reserved:
    claim_id: uuid.UUID
    planned_at: datetime
    placement: Placement
    permit: DialPermit


def tick_job(context: JobContext) -> None:
    """The ``telephony.campaign.tick`` job."""
    payload = context.payload
    dialer = CampaignDialer(context.container)
    dialer.tick(context.organization_id, uuid.UUID(str(payload["campaignId"])), int(payload["seq"]))


class CampaignDialer:
    def __init__(self, container: Container) -> None:
        runtime = outbound_runtime(container)
        self._runtime = runtime
        self._container = container
        self._clock = runtime.clock
        self._pacing: PacingConfig = runtime.pacing
        self._observer = runtime.observer
        self._tls = runtime.tls

    def tick(self, organization_id: uuid.UUID, campaign_id: uuid.UUID, seq: int) -> None:
        started = time.perf_counter()
        plan = self._plan(organization_id, campaign_id, seq)
        if plan is None or not plan.claims:
            return
        planned = time.perf_counter()
        try:
            results = gate_of(self._container).check_many(
                organization_id,
                [
                    CheckRequest(
                        phone=c.phone,
                        channel=Channel.VOICE,
                        voice=VoiceKind.ARTIFICIAL,
                        purpose=plan.purpose,
                        at=slot,
                        lead_id=c.lead_id,
                    )
                    for c, slot in zip(plan.claims, plan.slots, strict=True)
                ],
                requester=REQUESTER,
                issue_permits=True,
            )
        except GateUnavailable:
            logger.exception("campaign %s: the compliance gate is unavailable; its claims are released", campaign_id)
            self._release(plan)
            return
        asked = time.perf_counter()
        reserved = self._reserve(plan, results)
        overhead = (planned - started) + (time.perf_counter() - asked)
        gate_seconds = asked - planned
        if not reserved:
            self._report(dials=0, gate_seconds=gate_seconds, overhead_seconds=overhead)
            return

        async def dispatch() -> None:
            spent = await self._dispatch(plan, reserved)
            self._report(dials=len(reserved), gate_seconds=gate_seconds, overhead_seconds=overhead + spent)

        self._runtime.dispatcher.submit(dispatch)

    def _report(self, *, dials: int, gate_seconds: float, overhead_seconds: float) -> None:
        if self._observer is not None:
            self._observer.tick(dials=dials, gate_seconds=gate_seconds, overhead_seconds=overhead_seconds)

    # --- 1. plan

    def _plan(self, organization_id: uuid.UUID, campaign_id: uuid.UUID, seq: int) -> _Plan | None:
        pacing = self._pacing
        with tenant_session(self._container.sessions, organization_id) as session:
            campaign = session.get(Campaign, campaign_id, with_for_update=True)
            org = session.get(Organization, organization_id)
            if campaign is None or org is None or campaign.status != CampaignStatus.RUNNING or campaign.tick_seq != seq:
                return None  # stale, duplicate, or the campaign stopped
            now = self._clock.now()
            campaign.tick_seq = seq + 1
            campaign.last_tick_at = now
            if seq % RECOVER_EVERY == 1:
                self._recover(session, campaign, now)
            schedule = CallingSchedule.from_dict(campaign.schedule)
            interval = dial_interval(campaign.calls_per_minute)
            start = schedule.next_open(max(campaign.next_dial_at or now, now))
            active = _count(session, campaign.id, ACTIVE_LEAD_STATUSES)
            free = min(
                campaign.max_concurrent_calls - active,
                org.max_concurrent_calls - active_calls(session, now=utcnow()),
            )
            claims: list[Claim] = []
            slots: list[datetime] = []
            if start - now > pacing.lead:
                next_at = start - pacing.lead  # outside the schedule, or ahead of the pace
            elif free <= 0:
                next_at = now + pacing.capacity_poll
            else:
                slots = plan_slots(start, interval=interval, window=pacing.window, closes_at=schedule.closes_at(start))
                claims = claim_due(session, campaign.id, limit=min(len(slots), free), due_by=start, now=now)
                if claims:
                    campaign.next_dial_at = start + interval * len(claims)
                    next_at = tick_due(campaign.next_dial_at, now=now, lead=pacing.lead)
                else:
                    next_at = self._idle(session, campaign, now=now, start=start, active=active)
            if campaign.status == CampaignStatus.RUNNING:
                self._queue_tick(session, campaign, at=next_at, now=now)
            session.commit()
            return _Plan(
                campaign_id=campaign.id,
                organization_id=organization_id,
                purpose=Purpose(campaign.purpose),
                slots=slots[: len(claims)],
                claims=claims,
                cursor=campaign.next_dial_at,
            )

    def _idle(self, session: Session, campaign: Campaign, *, now: datetime, start: datetime, active: int) -> datetime:
        """Nothing to claim now: when to look again, or complete the campaign when no lead is left."""
        next_due = session.scalar(
            sa.select(sa.func.min(col(CampaignLead.next_attempt_at))).where(
                col(CampaignLead.campaign_id) == campaign.id, col(CampaignLead.status) == CampaignLeadStatus.PENDING
            )
        )
        if next_due is None:
            if active == 0:
                campaign.status = CampaignStatus.COMPLETED
                campaign.completed_at = now
                campaign.updated_at = utcnow()
                logger.info("campaign %s completed", campaign.id)
            return now + self._pacing.idle_poll
        if next_due <= start:
            return now + self._pacing.capacity_poll  # due leads are held by another tick
        campaign.next_dial_at = next_due  # nothing is due before: the next tick's first slot is then
        return tick_due(next_due, now=now, lead=self._pacing.lead)

    def _queue_tick(self, session: Session, campaign: Campaign, *, at: datetime, now: datetime) -> None:
        delay = at - now
        self._container.jobs.enqueue(
            session,
            TICK_JOB,
            {"campaignId": str(campaign.id), "seq": campaign.tick_seq, "at": at.isoformat()},
            organization_id=campaign.organization_id,
            delay=delay if delay > timedelta(0) else None,
        )

    def _recover(self, session: Session, campaign: Campaign, now: datetime) -> None:
        """Leads held by ticks that died: claims past their lease are released; reservations whose call never
        reached Twilio are failed and their leads dialable again; calls that never ended stop counting."""
        stale = now - self._pacing.claim_lease
        base = sa.update(CampaignLead).where(col(CampaignLead.campaign_id) == campaign.id)
        session.execute(
            base.where(col(CampaignLead.status) == CampaignLeadStatus.CLAIMED, col(CampaignLead.claimed_at) < stale)
            .values(status=CampaignLeadStatus.PENDING, claimed_at=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        lost = session.execute(
            sa.select(col(CampaignLead.id), col(Call.id), col(Call.call_sid))
            .join(Call, col(Call.id) == col(CampaignLead.call_id))
            .where(
                col(CampaignLead.campaign_id) == campaign.id,
                col(CampaignLead.status) == CampaignLeadStatus.DIALING,
                col(CampaignLead.claimed_at) < stale,
                sa.or_(
                    sa.and_(col(Call.call_sid).is_(None), col(Call.status) == CallStatus.QUEUED),
                    col(CampaignLead.claimed_at) < now - STALE_CALL_AFTER,
                ),
            )
        ).all()
        for lead_row_id, call_id, call_sid in lost:
            if call_sid is None:
                record_not_placed(session, call_id, RuntimeError("the dialer stopped before placing it"), now=utcnow())
                values = {"status": CampaignLeadStatus.PENDING, "attempts": CampaignLead.attempts - 1}
            else:
                values = {"status": CampaignLeadStatus.DONE, "detail": "no final status from Twilio"}
            session.execute(
                sa.update(CampaignLead)
                .where(col(CampaignLead.id) == lead_row_id)
                .values(updated_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )

    def _release(self, plan: _Plan) -> None:
        with tenant_session(self._container.sessions, plan.organization_id) as session:
            session.execute(
                sa.update(CampaignLead)
                .where(
                    col(CampaignLead.id).in_([c.id for c in plan.claims]),
                    col(CampaignLead.status) == CampaignLeadStatus.CLAIMED,
                )
                .values(status=CampaignLeadStatus.PENDING, claimed_at=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            session.commit()

    # --- 2. reserve

    def _reserve(self, plan: _Plan, results: list[GateResult]) -> list[_Reserved]:
        with tenant_session(self._container.sessions, plan.organization_id) as session:
            campaign = session.get(Campaign, plan.campaign_id, with_for_update=True)
            lock_call_admission(session, plan.organization_id)
            org = session.get(Organization, plan.organization_id)
            assert campaign is not None and org is not None
            rows = {
                row.id: row
                for row in session.scalars(
                    sa.select(CampaignLead).where(col(CampaignLead.id).in_([c.id for c in plan.claims]))
                )
            }
            numbers = outbound_numbers(session)
            running = campaign.status == CampaignStatus.RUNNING and bool(numbers)
            if campaign.status == CampaignStatus.RUNNING and not numbers:
                campaign.status = CampaignStatus.PAUSED
                logger.error("campaign %s paused: %s", campaign.id, NoOutboundNumber.__doc__)
            free = org.max_concurrent_calls - active_calls(session, now=utcnow())
            allowed: list[tuple[CampaignLead, GateResult, Call, datetime]] = []
            for claim, result, slot in zip(plan.claims, results, plan.slots, strict=True):
                row = rows.get(claim.id)
                if row is None or row.status != CampaignLeadStatus.CLAIMED:
                    continue
                row.updated_at = utcnow()
                if not running:
                    row.claimed_at = None
                    stopped = campaign.status == CampaignStatus.CANCELED
                    row.status = CampaignLeadStatus.CANCELED if stopped else CampaignLeadStatus.PENDING
                    continue
                row.decision_id = str(result.decision_id)
                decision = result.decision
                if result.permit is None or free <= 0:
                    row.claimed_at = None
                if result.permit is None:
                    if decision.next_allowed_at is not None:
                        row.status = CampaignLeadStatus.PENDING
                        row.next_attempt_at = max(decision.next_allowed_at, slot + timedelta(milliseconds=1))
                        row.detail = f"rescheduled by the gate: {blocked_reason(decision)}"[:500]
                    else:
                        row.status = CampaignLeadStatus.BLOCKED
                        row.detail = blocked_reason(decision)[:500]
                        publish_blocked(
                            self._container.events,
                            session,
                            result,
                            lead_id=row.lead_id,
                            phone=row.phone,
                            channel=Channel.VOICE,
                            purpose=plan.purpose,
                            context=f"campaign:{campaign.id}",
                        )
                    continue
                if free <= 0:
                    row.status = CampaignLeadStatus.PENDING
                    row.detail = "waiting for a free line"
                    continue
                free -= 1
                from_number = choose_from_number(numbers, row.phone, preferred=campaign.from_number)
                call = new_outbound_call(
                    lead_id=row.lead_id,
                    to_number=row.phone,
                    from_number=from_number,
                    purpose=campaign.purpose,
                    decision_id=result.decision_id,
                    now=utcnow(),
                )
                session.add(call)
                allowed.append((row, result, call, slot))
            session.flush()  # the calls exist before the campaign's leads point at them
            reserved: list[_Reserved] = []
            for row, result, call, planned_at in allowed:
                assert result.permit is not None
                row.status = CampaignLeadStatus.DIALING
                row.call_id = call.id
                row.attempts += 1
                row.planned_at = planned_at
                row.detail = ""
                reserved.append(
                    _Reserved(
                        claim_id=row.id,
                        planned_at=planned_at,
                        placement=Placement(
                            call_id=call.id,
                            organization_id=plan.organization_id,
                            to_number=call.to_number,
                            from_number=call.from_number,
                            gate_decision_id=str(result.decision_id),
                        ),
                        permit=result.permit,
                    )
                )
            self._take_back_slots(campaign, plan, reserved)
            session.commit()
            return reserved

    def _take_back_slots(self, campaign: Campaign, plan: _Plan, reserved: list[_Reserved]) -> None:
        """The slots after this tick's last dial go back to the next tick, unless the cursor has moved on since.
        (A dial keeps the slot the gate was asked about, so slots between dials are not reused.)"""
        last = max((item.planned_at for item in reserved), default=None)
        unused = [slot for slot in plan.slots if last is None or slot > last]
        if unused and plan.cursor is not None and campaign.next_dial_at == plan.cursor:
            campaign.next_dial_at = unused[0]

    # --- 3. dispatch

    async def _dispatch(self, plan: _Plan, reserved: list[_Reserved]) -> float:
        """Place each reserved call at its slot; returns the seconds spent recording Twilio's answers."""
        if not reserved:
            return 0.0
        settings = self._container.settings
        async with job_twilio_client(settings, tls=self._tls) as twilio:
            placing: list[asyncio.Task[float]] = []
            urls = CallbackUrls(settings.public_base_url)
            dialer = OutboundDialer(gate=gate_of(self._container), twilio=twilio, urls=urls) if twilio else None
            for item in sorted(reserved, key=lambda r: r.planned_at):
                await self._clock.sleep_until(item.planned_at)
                actual = self._clock.now()
                if self._observer is not None:
                    self._observer.dialed(planned=item.planned_at, actual=actual)
                placing.append(asyncio.create_task(self._place(dialer, plan, item, actual)))
            spent = await asyncio.gather(*placing)
        return sum(spent)

    async def _place(self, dialer: OutboundDialer | None, plan: _Plan, item: _Reserved, actual: datetime) -> float:
        try:
            if dialer is None:
                raise TwilioUnavailable("no Twilio account is configured", request_sent=False)
            sid = await dialer.place(item.permit, item.placement)
        except (TwilioError, PermitError) as exc:
            return await asyncio.to_thread(self._not_placed, plan, item, exc)
        except Exception as exc:  # one dial's failure must not stop the others of the tick
            logger.exception("campaign %s: placing call %s failed", plan.campaign_id, item.placement.call_id)
            return await asyncio.to_thread(self._not_placed, plan, item, exc)
        return await asyncio.to_thread(self._placed, plan, item, sid, actual)

    def _placed(self, plan: _Plan, item: _Reserved, sid: str, actual: datetime) -> float:
        started = time.perf_counter()
        with tenant_session(self._container.sessions, plan.organization_id) as session:
            record_placed(session, item.placement.call_id, sid)
            session.execute(
                sa.update(CampaignLead)
                .where(col(CampaignLead.id) == item.claim_id)
                .values(dialed_at=actual, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            session.commit()
        return time.perf_counter() - started

    def _not_placed(self, plan: _Plan, item: _Reserved, exc: Exception) -> float:
        """Twilio did not take the call: retry later when that is safe and useful, else the lead has failed."""
        started = time.perf_counter()
        retry = (isinstance(exc, TwilioUnavailable) and not exc.request_sent) or isinstance(exc, PermitError)
        retry = retry or (isinstance(exc, TwilioApiError) and exc.retryable)
        if isinstance(exc, InvalidPhoneNumber):
            reason = f"Twilio cannot call this number: {exc}"
        elif isinstance(exc, TwilioUnavailable) and exc.request_sent:
            reason = f"no answer from Twilio, so it is not dialed again (it may have been called): {exc}"
        else:
            reason = f"not placed: {exc}"
        with tenant_session(self._container.sessions, plan.organization_id) as session:
            record_not_placed(session, item.placement.call_id, exc, now=utcnow())
            row = session.get(CampaignLead, item.claim_id, with_for_update=True)
            if row is not None and row.status == CampaignLeadStatus.DIALING:
                row.placement_failures += 1
                row.detail = reason[:500]
                row.updated_at = utcnow()
                row.last_outcome = CallOutcome.FAILED.value
                if retry and row.placement_failures < self._pacing.max_placement_failures:
                    row.status = CampaignLeadStatus.PENDING
                    row.attempts -= 1
                    row.next_attempt_at = self._clock.now() + self._pacing.placement_retry
                else:
                    row.status = CampaignLeadStatus.FAILED
            session.commit()
        logger.warning("campaign %s: call %s not placed: %s", plan.campaign_id, item.placement.call_id, reason)
        return time.perf_counter() - started


def _count(session: Session, campaign_id: uuid.UUID, statuses: tuple[CampaignLeadStatus, ...]) -> int:
    query = sa.select(sa.func.count()).where(
        col(CampaignLead.campaign_id) == campaign_id, col(CampaignLead.status).in_(statuses)
    )
    return int(session.scalar(query) or 0)


def claim_due(session: Session, campaign_id: uuid.UUID, *, limit: int, due_by: datetime, now: datetime) -> list[Claim]:
    """Take up to ``limit`` due leads for this tick: rows another transaction holds are skipped, and only rows
    still pending change, so no lead is ever claimed twice."""
    query = (
        sa.select(col(CampaignLead.id), col(CampaignLead.lead_id), col(CampaignLead.phone))
        .where(
            col(CampaignLead.campaign_id) == campaign_id,
            col(CampaignLead.status) == CampaignLeadStatus.PENDING,
            col(CampaignLead.next_attempt_at) <= due_by,
        )
        .order_by(col(CampaignLead.next_attempt_at), col(CampaignLead.row_number), col(CampaignLead.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = [Claim(id=row_id, lead_id=lead_id, phone=phone) for row_id, lead_id, phone in session.execute(query)]
    if not found:
        return []
    session.execute(
        sa.update(CampaignLead)
        .where(
            col(CampaignLead.id).in_([c.id for c in found]), col(CampaignLead.status) == CampaignLeadStatus.PENDING
        )
        .values(status=CampaignLeadStatus.CLAIMED, claimed_at=now, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return found
