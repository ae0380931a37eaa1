"""Route: POST /api/v1/compliance/check (may this call or text go now, or at ``at``?).

Every answer is recorded in the audit log and names its decision. An answer over the API is advice: it carries
no permit and does not count as an attempt; the dialer and the SMS sender ask ``ComplianceGate.permit``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from compliance.deps import get_gate, requester_of
from compliance.fact_store import CheckRequest
from compliance.schemas import CheckIn, CheckOut, CheckResultOut
from compliance.service import ComplianceGate, GateUnavailable
from seiketsu.auth.deps import Principal, require
from seiketsu.auth.rbac import Permission
from seiketsu.errors import AppError

router = APIRouter(prefix="/api/v1/compliance", tags=["compliance"])


class GateUnavailableError(AppError):
    status = 503
    title = "Service Unavailable"


@router.post("/check", response_model=CheckOut, response_model_exclude_none=True)
def check(
    body: CheckIn,
    principal: Principal = Depends(require(Permission.VOICE_MANAGE)),
    gate: ComplianceGate = Depends(get_gate),
) -> CheckOut:
    """Ask the gate; blocked answers name each blocking rule and, when only time blocks, the next allowed moment."""
    request = CheckRequest(
        phone=body.phone,
        channel=body.channel,
        purpose=body.purpose,
        voice=body.voice,
        at=body.at,
        lead_id=body.lead_id,
        state=body.state,
        postal_code=body.postal_code,
    )
    try:
        result = gate.check(principal.organization_id, request, requester=requester_of(principal))
    except GateUnavailable as exc:
        raise GateUnavailableError(str(exc)) from exc
    decision = result.decision
    return CheckOut(
        allowed=decision.allowed,
        decision_id=result.decision_id,
        checks=[
            CheckResultOut(rule=c.rule, result=c.result, citation=c.citation, detail=c.detail)
            for c in decision.checks
        ],
        next_allowed_at=decision.next_allowed_at,
    )
