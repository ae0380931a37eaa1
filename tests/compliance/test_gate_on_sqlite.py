"""The embedded mode: the gate reads its facts and records its decisions on SQLite with the same statement."""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa

from compliance.audit import Requester
from compliance.consent import ConsentKind
from compliance.fact_store import CheckRequest
from compliance.imports import ImportSpec, RegistryImporter
from compliance.internal_dnc import record_do_not_call, withdraw_do_not_call
from compliance.ledger import Evidence, GrantSource, record_grant
from compliance.models import GateDecision
from compliance.permits import PermitAuthority
from compliance.registry_files import ListKind
from compliance.rulebook import RuleBook
from compliance.service import ComplianceGate
from compliance.vocabulary import Channel, ConsentChannel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import tenant_session
from tests.compliance.support import CONSENT_AT, FRESH_COPY, NOW, FixedClock
from tests.factories import make_org

NUMBERS = {"consented": "+12125550134", "listed": "+12125550135", "dnc": "+12125550136", "lead": "+12125550137"}


def _request(phone: str, **changes: object) -> CheckRequest:
    base = {"phone": phone, "channel": Channel.VOICE, "voice": VoiceKind.ARTIFICIAL, "purpose": Purpose.MARKETING}
    return CheckRequest(**{**base, **changes})  # type: ignore[arg-type]


def test_the_gate_works_on_sqlite(sqlite_container: Container) -> None:
    org = make_org(sqlite_container, "acme")
    with tenant_session(sqlite_container.sessions, org.id) as session:
        for phone in (NUMBERS["consented"], NUMBERS["dnc"], NUMBERS["lead"]):
            record_grant(
                session, phone=phone, kind=ConsentKind.WRITTEN, channels=tuple(ConsentChannel), purposes=tuple(Purpose),
                source=GrantSource.WEB_FORM, granted_at=CONSENT_AT, evidence=Evidence(form_url="https://x.test/f"),
                recorded_by="test",
            )  # fmt: skip
        record_do_not_call(session, phone=NUMBERS["dnc"], source="api", requested_at=NOW - timedelta(days=2))
        record_do_not_call(session, phone=NUMBERS["lead"], source="api", requested_at=NOW - timedelta(days=3))
        withdraw_do_not_call(session, phone=NUMBERS["lead"], source="api", reason="asked again", recorded_by="test",
                             withdrawn_at=NOW - timedelta(days=1))  # fmt: skip
        session.add(Lead(phone=NUMBERS["lead"], state="NY", last_inquiry_at=NOW - timedelta(days=2)))
        session.commit()
    spec = ImportSpec(organization_id=org.id, list_name="national", kind=ListKind.FULL, as_of=FRESH_COPY)
    RegistryImporter(sqlite_container.engine).run(spec, io.BytesIO(b"2125550135\n2125550137\n"), name="n.txt")
    gate = ComplianceGate(
        engine=sqlite_container.engine,
        rulebook=RuleBook.load(),
        permits=PermitAuthority(sqlite_container.settings.secret_key),
        clock=FixedClock(),
    )
    requests = [
        _request(NUMBERS["consented"]),
        _request(NUMBERS["listed"], voice=VoiceKind.LIVE),  # listed, no written consent, no relationship
        _request(NUMBERS["dnc"]),
        _request(NUMBERS["lead"], voice=VoiceKind.LIVE),  # listed, withdrawn from the list, inquiry since the request
        _request(NUMBERS["consented"], at=NOW + timedelta(hours=12)),
    ]
    results = gate.check_many(org.id, requests, requester=Requester.system("test"), issue_permits=True)
    blocking = [{c.rule for c in r.decision.blocking} for r in results]
    night = {"US.calling_hours", "NY.calling_hours"}
    assert blocking == [set(), {"federal.national_dnc"}, {"federal.internal_dnc"}, set(), night]
    assert [r.permit is not None for r in results] == [True, False, False, True, False]
    with tenant_session(sqlite_container.sessions, org.id) as session:
        rows = list(session.scalars(sa.select(GateDecision)))
    assert len(rows) == 5 and sum(row.permit_expires_at is not None for row in rows) == 2
    assert {row.lead_id for row in rows if row.phone == NUMBERS["lead"]} != {None}
