"""A campaign call's outcome, back from ``call.completed``: the lead is done, or dialed again later.

Only a busy or unanswered call is retried, after the campaign's retry delay, while attempts remain; every other
outcome (a conversation, a voicemail, a failure, an opt-out) ends the lead. The handler is idempotent: it acts
only on a lead still waiting for that very call. It also restarts the pacing of a running campaign whose ticks
have stopped (a tick that died after exhausting its retries), so a lost tick cannot stall a campaign for long.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.db import utcnow
from seiketsu.jobs.registry import JobContext
from seiketsu.tenancy.scoping import tenant_session
from telephony.campaigns.models import Campaign, CampaignLead, CampaignLeadStatus, CampaignStatus
from telephony.campaigns.service import kick
from telephony.outbound_runtime import outbound_runtime

logger = logging.getLogger(__name__)

OUTCOME_JOB = "telephony.campaign.call_completed"
RETRY_STATUSES = frozenset({"busy", "no-answer"})


def is_campaign_call(session: Session, organization_id: uuid.UUID, payload: Mapping[str, Any]) -> bool:
    """The relevance check: only an outbound call some campaign lead placed gets a job."""
    if payload.get("direction") != "outbound" or not payload.get("callId"):
        return False
    query = sa.select(col(CampaignLead.id)).where(
        col(CampaignLead.organization_id) == organization_id,
        col(CampaignLead.call_id) == uuid.UUID(str(payload["callId"])),
    )
    return session.scalar(query.limit(1)) is not None


def call_completed_job(context: JobContext) -> None:
    """Subscribed to ``call.completed``."""
    payload = context.payload
    if payload.get("direction") != "outbound" or not payload.get("callId"):
        return
    container = context.container
    runtime = outbound_runtime(container)
    with tenant_session(container.sessions, context.organization_id) as session:
        found = session.execute(
            sa.select(col(CampaignLead.id), col(CampaignLead.campaign_id)).where(
                col(CampaignLead.call_id) == uuid.UUID(payload["callId"])
            )
        ).first()
        if found is None:
            return
        # The campaign row first, then the lead's: the order the dialer's ticks lock them in.
        campaign = session.get(Campaign, found.campaign_id, with_for_update=True)
        row = session.get(CampaignLead, found.id, with_for_update=True)
        if campaign is None or row is None or row.status != CampaignLeadStatus.DIALING:
            return
        now = runtime.clock.now()
        status = str(payload.get("status") or "")
        row.last_status = status[:12]
        row.last_outcome = str(payload.get("outcome") or "")[:16] or None
        row.updated_at = utcnow()
        live = campaign.status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED)
        if status in RETRY_STATUSES and row.attempts < campaign.max_attempts and live:
            row.status = CampaignLeadStatus.PENDING
            row.next_attempt_at = now + timedelta(seconds=campaign.retry_delay_seconds)
            row.claimed_at = None
        else:
            row.status = CampaignLeadStatus.DONE
        stalled = campaign.last_tick_at is None or now - campaign.last_tick_at > runtime.pacing.stale_tick
        if campaign.status == CampaignStatus.RUNNING and stalled:
            logger.warning("campaign %s: no tick since %s; pacing restarted", campaign.id, campaign.last_tick_at)
            kick(session, container.jobs, campaign, now=now)
        session.commit()
