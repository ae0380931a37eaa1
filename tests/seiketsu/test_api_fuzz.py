"""Schema-driven fuzzing of every operation in ``/openapi.json``: whatever a client sends, the answer is never 5xx.

Schemathesis derives each operation's cases from the app's own schema: its examples, the boundary and
out-of-schema values of every parameter (coverage phase), then generated ones, valid and invalid. The real app
runs on the test PostgreSQL and Redis, called as an organization's admin (the widest tenant role), one app for
the whole module so that the run fits the normal suite. Examples are derandomized: every run sends the same cases.
``FUZZ_EXAMPLES=60`` (8 by default) searches harder, for a run by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from redis import Redis
from schemathesis.python.asgi import shutdown_lifespans

from seiketsu.app import create_app
from seiketsu.auth import service
from seiketsu.container import build_container
from seiketsu.tenancy.scoping import system_session
from seiketsu.tenancy.service import set_plan_limits
from tests.conftest import REDIS_URL, fast_passwords, make_settings, truncate
from tests.factories import PASSWORD, make_org

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "8"))


@dataclass(frozen=True)
class Target:
    app: FastAPI
    headers: dict[str, str]
    organization_id: str


@pytest.fixture(scope="module")
def target(pg_url: str) -> Iterator[Target]:
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    container = build_container(
        make_settings(database_url=pg_url, redis_url=REDIS_URL, embedded_jobs=False), passwords=fast_passwords()
    )
    org = make_org(container, "fuzz", numbers=("+15125550100",))
    with system_session(container.sessions) as session:
        # Hundreds of requests a minute: the organization's plan must not answer 429 to most of them.
        set_plan_limits(session, slug=org.slug, max_concurrent_calls=None, api_requests_per_minute=1_000_000)
        session.commit()
    pair = service.login(container, organization_slug=org.slug, email=org.admin_email, password=PASSWORD)
    try:
        app = create_app(container.settings, container=container)
        yield Target(app, {"Authorization": f"Bearer {pair.access_token}"}, str(org.id))
    finally:
        shutdown_lifespans()  # the app's lifespan, which its first call started
        truncate(container)
        container.close()
        redis.flushdb()
        redis.close()


# The operations are read from the app's own schema, each one a test of its own.
schema = schemathesis.openapi.from_dict(create_app(make_settings()).openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case: schemathesis.Case[Any], target: Target) -> None:
    if case.path_parameters and "organization_id" in case.path_parameters:
        # Past the 404 of a random id: the caller's own organization, whose settings and users are fuzzed.
        case.path_parameters["organization_id"] = target.organization_id
    response = case.call(app=target.app, headers=target.headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
