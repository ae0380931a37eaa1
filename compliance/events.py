"""The ``compliance.blocked`` event: a dial or text the gate refused, for the brokerage's webhooks."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from compliance.service import GateResult
from compliance.vocabulary import Channel, Purpose
from seiketsu.events import EventBus

COMPLIANCE_BLOCKED = "compliance.blocked"


def publish_blocked(
    events: EventBus,
    session: Session,
    result: GateResult,
    *,
    lead_id: uuid.UUID | None,
    phone: str,
    channel: Channel,
    purpose: Purpose,
    context: str,
) -> None:
    """Publish ``compliance.blocked`` for a refused dial or text, in ``session``'s transaction."""
    payload = _payload(result, lead_id=lead_id, phone=phone, channel=channel, purpose=purpose, context=context)
    events.publish(session, COMPLIANCE_BLOCKED, payload)


def _payload(
    result: GateResult, *, lead_id: uuid.UUID | None, phone: str, channel: Channel, purpose: Purpose, context: str
) -> dict[str, Any]:
    """Self-contained: who was refused, on which channel, by which rules, and when they may be tried again."""
    next_at = result.decision.next_allowed_at
    return {
        "leadId": str(lead_id) if lead_id else None,
        "phone": phone,
        "channel": channel.value,
        "purpose": purpose.value,
        "decisionId": str(result.decision_id),
        "reasons": [{"rule": c.rule, "detail": c.detail} for c in result.decision.blocking],
        "nextAllowedAt": next_at.isoformat() if next_at else None,
        "context": context,
    }
