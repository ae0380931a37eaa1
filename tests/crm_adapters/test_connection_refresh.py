"""The connection test with a stale OAuth token, on a real server: the token is refreshed and stored once, the test
answers 200, and the server keeps answering while the new credentials wait for the database.

The test holds a write lock on the integration's row while the server stores the refreshed token, and asks
``/healthz`` meanwhile: a store that ran on the event loop, or a request that held its own transaction across the
vendor call (SQLite's single writer), would leave ``/healthz`` or the test unanswered."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from crm_adapters.local_server import serve_locally
from crm_adapters.models import Integration
from crm_adapters.runtime import crm_runtime
from crm_adapters.service import open_credentials
from seiketsu.app import create_app
from seiketsu.container import Container
from seiketsu.tenancy.scoping import tenant_session
from tests.factories import login, make_org

from .delivery_support import asgi_client, make_integration, use_http
from .vendor_doubles import FakeSalesforce, FakeZoho

WAIT = 30.0
"""A bound on waiting for the other side, so that a broken server fails the test instead of hanging it."""


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest) -> Iterator[Container]:
    yield request.getfixturevalue("container" if request.param == "postgresql" else "sqlite_container")


def _vendor(crm_type: str) -> FakeSalesforce | FakeZoho:
    return FakeSalesforce(base_url="https://acme.my.salesforce.com") if crm_type == "salesforce" else FakeZoho()


def _stale_credentials(fake: FakeSalesforce | FakeZoho) -> dict[str, str]:
    credentials = {"access_token": "stale", "refresh_token": fake.refresh_token, "client_id": "c", "client_secret": "s"}
    if isinstance(fake, FakeSalesforce):
        credentials["instance_url"] = fake.base_url
    return credentials


def _wait_for_lock_waiter(container: Container) -> None:
    """On PostgreSQL, until a session waits for the row lock (the store has begun); SQLite cannot tell."""
    if container.engine.dialect.name != "postgresql":
        return
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    deadline = time.monotonic() + WAIT
    with container.engine.connect() as connection:
        while not connection.execute(query).scalar_one():
            assert time.monotonic() < deadline, "the refreshed credentials were never stored"
            time.sleep(0.05)
            connection.rollback()


@pytest.mark.parametrize("crm_type", ["salesforce", "zoho"])
def test_a_stale_token_is_refreshed_stored_and_the_server_keeps_answering(database, crm_type):
    container = database
    app = create_app(container.settings, container=container)
    fake = _vendor(crm_type)
    use_http(container, asgi_client(fake.app), base_url="http://crm-double.test", vendor=crm_type)
    org = make_org(container, "acme")
    integration_id = make_integration(
        container, org, crm_type=crm_type, credentials=_stale_credentials(fake), settings={}
    )
    token_requested, token_released = threading.Event(), threading.Event()

    async def hold_the_token() -> None:
        token_requested.set()
        await asyncio.to_thread(token_released.wait, WAIT)

    fake.token_hook = hold_the_token
    with serve_locally(app) as url, httpx.Client(base_url=url, timeout=WAIT) as client:
        headers = login(client, org)  # type: ignore[arg-type]
        with ThreadPoolExecutor(1) as pool:
            tested = pool.submit(client.post, f"/api/v1/integrations/{integration_id}/test", headers=headers)
            assert token_requested.wait(WAIT)
            with container.engine.connect() as locker:
                locker.execute(
                    sa.update(Integration).where(col(Integration.id) == integration_id).values(name=Integration.name)
                )
                token_released.set()
                _wait_for_lock_waiter(container)
                assert client.get("/healthz", timeout=5).status_code == 200
                locker.rollback()
            answer = tested.result(timeout=WAIT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    assert fake.refreshes == 1
    with tenant_session(container.sessions, org.id) as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        stored = open_credentials(crm_runtime(container).secret_box, integration.credentials)
    assert stored["access_token"] == fake.access_token == "fresh-token-1"
