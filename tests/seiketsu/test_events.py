"""The event bus: one outbox job per interested subscriber, in the publisher's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from seiketsu.container import Container
from seiketsu.jobs.models import Job
from seiketsu.tenancy.scoping import system_session, tenant_session
from tests.factories import make_org


def _noop(context: object) -> None:
    return None


def _job_names(container: Container) -> list[str]:
    with system_session(container.sessions) as session:
        return sorted(session.scalars(sa.select(col(Job.name))))


def test_a_subscriber_whose_check_says_no_gets_no_job(container: Container) -> None:
    org = make_org(container, "events-org")
    seen: list[tuple[uuid.UUID, Mapping[str, Any]]] = []

    def only_big_deals(session: Session, organization_id: uuid.UUID, payload: Mapping[str, Any]) -> bool:
        seen.append((organization_id, payload))
        return bool(payload["price"] > 1_000_000)

    for name in ("test.always", "test.big_deals"):
        container.jobs.registry.register(name, _noop)
    container.events.subscribe("deal.closed", "test.always")
    container.events.subscribe("deal.closed", "test.big_deals", when=only_big_deals)

    with tenant_session(container.sessions, org.id) as session:
        small = container.events.publish(session, "deal.closed", {"price": 400_000})
        big = container.events.publish(session, "deal.closed", {"price": 2_000_000})
        session.commit()

    assert [job.name for job in small] == ["test.always"]
    assert [job.name for job in big] == ["test.always", "test.big_deals"]
    assert _job_names(container) == ["test.always", "test.always", "test.big_deals"]
    assert seen == [
        (org.id, {"event": "deal.closed", "price": 400_000}),
        (org.id, {"event": "deal.closed", "price": 2_000_000}),
    ]


def test_a_failing_check_enqueues_the_job_and_keeps_the_transaction(container: Container) -> None:
    org = make_org(container, "events-org")

    def broken(session: Session, organization_id: uuid.UUID, payload: Mapping[str, Any]) -> bool:
        raise KeyError("no such setting")

    container.jobs.registry.register("test.checked", _noop)
    container.events.subscribe("deal.closed", "test.checked", when=broken)
    with tenant_session(container.sessions, org.id) as session:
        jobs = container.events.publish(session, "deal.closed", {"price": 1})
        session.commit()
    assert [job.name for job in jobs] == ["test.checked"]
    assert _job_names(container) == ["test.checked"]


def test_a_subscriber_subscribes_once(container: Container) -> None:
    container.jobs.registry.register("test.once", _noop)
    container.events.subscribe("deal.closed", "test.once")
    with pytest.raises(ValueError, match="already subscribes"):
        container.events.subscribe("deal.closed", "test.once", when=lambda *_: True)
    assert container.events.subscribers("deal.closed") == ("test.once",)
