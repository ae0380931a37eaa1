"""The gate's own connections skip the ping, so a decision must survive the server closing them (a restart)."""

from __future__ import annotations

import sqlalchemy as sa

from compliance.audit import Requester
from compliance.fact_store import CheckRequest
from compliance.models import GateDecision
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from tests.compliance.support import NY_PHONE, install_gate
from tests.factories import make_org

REQUEST = CheckRequest(phone=NY_PHONE, channel=Channel.VOICE, voice=VoiceKind.LIVE, purpose=Purpose.INFORMATIONAL)


def test_a_decision_survives_the_server_closing_the_gates_connections(container: Container) -> None:
    org = make_org(container, "alpha")
    gate = install_gate(container)
    requester = Requester.system("test")
    assert gate.check(org.id, REQUEST, requester=requester).allowed
    with gate._connections.engine.connect() as conn:  # the connection the next decision will be given
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    with container.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    assert gate.check(org.id, REQUEST, requester=requester).allowed
    with gate._connections.engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    with container.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    assert gate.check_many(org.id, [REQUEST] * 3, requester=requester, issue_permits=True)[0].permit is not None
    with container.engine.connect() as conn:
        recorded = conn.execute(sa.select(sa.func.count()).select_from(GateDecision)).scalar_one()
    assert recorded == 5
    gate.close()
