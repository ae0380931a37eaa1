"""Campaign CSV uploads under pressure: bounded in bytes and rows (settings), one running import per organization,
and run off the threads that serve Twilio's webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from seiketsu.app import create_app
from seiketsu.bulk_imports import BulkImports
from seiketsu.container import Container
from seiketsu.leads.models import Lead
from seiketsu.tenancy.models import Role
from seiketsu.tenancy.scoping import system_session
from telephony.campaigns.models import Campaign
from telephony.runtime import twilio_auth_token
from telephony.signatures import compute_twilio_signature
from tests.factories import PASSWORD, OrgFixture, login, make_org, make_user
from tests.servers import serve
from tests.telephony.conftest import voice_org, voice_params

SETTINGS = {"name": "Spring sellers", "callsPerMinute": 30, "maxAttempts": 1}
BOUNDARY = "seiketsu-test-boundary"


def _csv(rows: int, *, first: int = 0) -> bytes:
    return ("phone,first name\n" + "".join(f"2125{n:06d},Lee\n" for n in range(first, first + rows))).encode()


def _multipart(csv: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="campaign"\r\n\r\n{json.dumps(SETTINGS)}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="leads.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _counts(container: Container) -> tuple[int, int]:
    with system_session(container.sessions) as session:
        leads = session.scalar(sa.select(sa.func.count()).select_from(Lead)) or 0
        campaigns = session.scalar(sa.select(sa.func.count()).select_from(Campaign)) or 0
    return int(leads), int(campaigns)


@pytest.fixture
def agent(client: TestClient, container: Container) -> dict[str, str]:
    """An agent of the brokerage: the role that may create campaigns."""
    org = make_org(container, "uploads")
    return login(client, org, make_user(container, org, Role.AGENT))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_file_over_the_byte_limit_is_refused_with_413_naming_it(
    client: TestClient, container: Container, agent: dict[str, str], chunked: bool
) -> None:
    container.settings = replace(container.settings, csv_import_max_bytes=2_000)
    body = _multipart(_csv(200))  # about 3.4 kB
    headers = {**agent, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    content: Any = iter([body[i : i + 500] for i in range(0, len(body), 500)]) if chunked else body
    response = client.post("/api/v1/campaigns", headers=headers, content=content)
    assert response.status_code == 413, response.text
    problem = response.json()
    assert problem["limitBytes"] == 2_000 and "2,000 bytes" in problem["detail"]
    assert "CSV_IMPORT_MAX_BYTES" in problem["detail"] and problem["detail"].startswith("form.file")
    assert _counts(container) == (0, 0)


def test_a_file_over_the_row_limit_is_refused_naming_it(
    client: TestClient, container: Container, agent: dict[str, str]
) -> None:
    container.settings = replace(container.settings, csv_import_max_rows=5)
    files = {"file": ("leads.csv", _csv(6), "text/csv")}
    response = client.post("/api/v1/campaigns", headers=agent, files=files, data={"campaign": json.dumps(SETTINGS)})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error == {"field": "file.row.7.file", "message": "row 7: more than 5 rows, the limit of a file"}
    ok = client.post(
        "/api/v1/campaigns", headers=agent, files={"file": ("leads.csv", _csv(5), "text/csv")},
        data={"campaign": json.dumps(SETTINGS)},
    )  # fmt: skip
    assert ok.status_code == 201 and ok.json()["progress"]["total"] == 5


def test_only_the_first_hundred_row_errors_are_listed_with_the_total(
    client: TestClient, container: Container, agent: dict[str, str]
) -> None:
    csv = b"phone\n" + b"not a phone\n" * 150
    files = {"file": ("leads.csv", csv, "text/csv")}
    response = client.post("/api/v1/campaigns", headers=agent, files=files, data={"campaign": json.dumps(SETTINGS)})
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == 100 and problem["errors"][-1]["field"] == "file.row.101.phone"
    assert problem["detail"] == "150 error(s) in the file (the first 100 are listed); nothing was imported"


@pytest.fixture
def campaigns_locked(container: Container) -> Iterator[sa.Connection]:
    """The campaigns table locked by another transaction: an import that reaches it waits there."""
    engine = sa.create_engine(container.settings.database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE"))
            yield connection
            connection.rollback()
    finally:
        engine.dispose()


def _waiting_on_campaigns(lock: sa.Connection) -> int:
    query = "SELECT count(*) FROM pg_locks WHERE relation = 'campaigns'::regclass AND NOT granted"
    return int(lock.execute(sa.text(query)).scalar_one())


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("processes", [1, 0], ids=["import-process", "import-thread"])
async def test_imports_run_apart_from_the_webhook_threads_and_one_at_a_time_per_organization(
    container: Container, campaigns_locked: sa.Connection, processes: int
) -> None:
    voice_org(container)
    first, second = make_org(container, "first"), make_org(container, "second")
    # One thread serves every request; imports run in an import process, or on the web process's import thread.
    container.settings = replace(container.settings, blocking_threads=1, import_processes=processes)
    container.imports.close()
    container.imports = BulkImports(container.settings)
    container.closers.append(container.imports.close)
    app = create_app(container.settings, container=container)
    async with serve(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:

        async def agent_of(org: OrgFixture) -> dict[str, str]:
            email = make_user(container, org, Role.AGENT)
            body = {"email": email, "password": PASSWORD, "organizationSlug": org.slug}
            token = (await http.post("/api/v1/auth/login", json=body)).json()["accessToken"]
            return {"Authorization": f"Bearer {token}"}

        async def upload(headers: dict[str, str], first_row: int) -> httpx.Response:
            files = {"file": ("leads.csv", _csv(300, first=first_row), "text/csv")}
            data = {"campaign": json.dumps(SETTINGS)}
            # waits for as long as the test holds the lock: no read timeout of its own on a loaded machine
            return await http.post("/api/v1/campaigns", headers=headers, files=files, data=data, timeout=None)

        try:
            first_agent, second_agent = await agent_of(first), await agent_of(second)
            running = asyncio.create_task(upload(first_agent, 0))
            await _until(lambda: _waiting_on_campaigns(campaigns_locked) == 1, "the import to wait on the lock")

            # The import is held up in the database: Twilio's webhooks still answer.
            params = voice_params()
            url = container.settings.public_base_url + "/twilio/voice"
            signature = compute_twilio_signature(twilio_auth_token(container.settings), url, params)
            answered = await http.post(
                "/twilio/voice", data=params, headers={"X-Twilio-Signature": signature}, timeout=10
            )
            assert answered.status_code == 200 and "<Stream" in answered.text

            refused = await upload(first_agent, 2000)
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
            assert "IMPORTS_PER_ORGANIZATION" in refused.json()["detail"]
            other_org = asyncio.create_task(upload(second_agent, 1000))
            await _until(lambda: container.imports.running(second.id) == 1, "the other organization's import")
            assert not running.done() and not other_org.done()
        finally:
            await asyncio.to_thread(campaigns_locked.rollback)  # a stuck import must not hold up the server's exit
        created = [await running, await other_org]
        assert [r.status_code for r in created] == [201, 201], [r.text for r in created]
        assert [r.json()["progress"]["total"] for r in created] == [300, 300]
        assert container.imports.running(first.id) == 0
