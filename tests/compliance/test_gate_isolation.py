"""The gate reads its facts outside the ORM's tenancy scoping: nothing of another organization may reach them."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from compliance.audit import Requester
from compliance.fact_store import CheckRequest
from compliance.internal_dnc import internal_statuses, is_on_internal_list, record_do_not_call, withdraw_do_not_call
from compliance.vocabulary import Channel, Purpose, VoiceKind
from seiketsu.container import Container
from seiketsu.leads.models import Lead
from seiketsu.tenancy.scoping import tenant_session
from tests.compliance.support import NOW, NY_PHONE, grant, install_gate, registry_copy
from tests.factories import login, make_org

FL_PHONE = "+18505550134"
OTHER = "+12125550135"


def test_another_organizations_facts_never_count(client: TestClient, container: Container) -> None:
    a, b = make_org(container, "alpha"), make_org(container, "beta")
    gate = install_gate(container)
    b_headers = login(client, b)
    for phone in (NY_PHONE, OTHER, FL_PHONE):
        grant(client, b_headers, phone)
    registry_copy(container, b.id, numbers=["2125550135"])
    registry_copy(container, b.id, area_codes=("850",))
    registry_copy(container, b.id, area_codes=("850",), list_name="state:FL")
    with tenant_session(container.sessions, b.id) as session:
        record_do_not_call(session, phone=OTHER, source="api", requested_at=NOW - timedelta(days=1))
        session.add(Lead(phone=NY_PHONE, last_inquiry_at=NOW - timedelta(days=5)))
        session.commit()
    for _ in range(3):
        decision, permit = gate.permit(
            b.id, phone=FL_PHONE, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING,
            requester=Requester.system("dialer"),
        )  # fmt: skip
        assert permit is not None, decision.blocking

    a_headers = login(client, a)
    grant(client, a_headers, OTHER)
    grant(client, a_headers, FL_PHONE)
    registry_copy(container, a.id, numbers=["2125550134"])
    registry_copy(container, a.id, area_codes=("850",))
    registry_copy(container, a.id, area_codes=("850",), list_name="state:FL")
    requests = [
        # B's consent must not count for A; nor B's lead relationship for a live call to a number A's copy lists.
        CheckRequest(phone=NY_PHONE, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING),
        CheckRequest(phone=NY_PHONE, channel=Channel.VOICE, voice=VoiceKind.LIVE, purpose=Purpose.MARKETING),
        # B's Do-Not-Call request and B's registry listing must not block A.
        CheckRequest(phone=OTHER, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING),
        # B's three permits must not count against A's Florida cap.
        CheckRequest(phone=FL_PHONE, channel=Channel.VOICE, voice=VoiceKind.ARTIFICIAL, purpose=Purpose.MARKETING),
    ]
    results = gate.check_many(a.id, requests, requester=Requester.system("test"))
    blocking = [{c.rule for c in r.decision.blocking} for r in results]
    assert blocking == [
        {"federal.consent.written", "federal.national_dnc"},
        {"federal.national_dnc"},
        set(),
        set(),
    ]


def test_another_organizations_withdrawal_does_not_take_a_number_off_the_list(container: Container) -> None:
    a, b = make_org(container, "alpha"), make_org(container, "beta")
    for org in (a, b):
        with tenant_session(container.sessions, org.id) as session:
            record_do_not_call(session, phone=NY_PHONE, source="api", requested_at=NOW - timedelta(days=2))
            session.commit()
    with tenant_session(container.sessions, b.id) as session:
        withdraw_do_not_call(session, phone=NY_PHONE, source="api", reason="asked again", recorded_by="test")
        session.commit()
        assert not is_on_internal_list(session, NY_PHONE)
    with tenant_session(container.sessions, a.id) as session:
        assert is_on_internal_list(session, NY_PHONE)
        assert internal_statuses(session, [NY_PHONE])[NY_PHONE].listed
