"""What the compliance routes need from a request: the gate, and who is asking."""

from __future__ import annotations

from fastapi import Depends

from compliance.audit import Requester, RequesterKind
from compliance.service import ComplianceGate
from seiketsu.auth.deps import Principal, get_container
from seiketsu.container import Container

EXTRAS_KEY = "compliance"


def gate_of(container: Container) -> ComplianceGate:
    """The process's gate, built once by ``compliance.wiring.register``."""
    gate = container.extras.get(EXTRAS_KEY)
    if not isinstance(gate, ComplianceGate):
        raise RuntimeError("the compliance package is not wired into this container")
    return gate


def get_gate(container: Container = Depends(get_container)) -> ComplianceGate:
    return gate_of(container)


def requester_of(principal: Principal) -> Requester:
    if principal.api_key_id is not None:
        return Requester(RequesterKind.API_KEY, str(principal.api_key_id))
    if principal.user_id is not None:
        return Requester(RequesterKind.USER, str(principal.user_id))
    return Requester.system("api")
