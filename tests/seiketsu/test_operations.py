from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from seiketsu.app import create_app
from seiketsu.container import Container, build_container
from seiketsu.observability.logging import redact
from tests.conftest import fast_passwords, make_settings
from tests.factories import login, make_org
from tests.seiketsu.routes import api_routes


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_reports_an_unreachable_redis_as_degraded(pg_url: str) -> None:
    settings = make_settings(database_url=pg_url, redis_url="redis://127.0.0.1:1/0")
    container = build_container(settings, passwords=fast_passwords())
    with TestClient(create_app(settings, container=container)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200  # the service runs on its fallbacks: it stays in rotation
    assert response.json() == {
        "status": "degraded",
        "degraded": ["redis"],
        "checks": {"database": "ok", "redis": "unreachable"},
    }


def test_readyz_answers_503_without_the_database() -> None:
    settings = make_settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    container = build_container(settings, passwords=fast_passwords())
    with TestClient(create_app(settings, container=container)) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "unreachable"}


def test_metrics_count_requests_by_route_template(client: TestClient, container: Container) -> None:
    headers = login(client, make_org(container, "acme"))
    client.get("/api/v1/leads/00000000-0000-0000-0000-000000000000", headers=headers)
    text = client.get("/metrics").text
    assert 'seiketsu_http_requests_total{method="GET",route="/api/v1/leads/{lead_id}",status="404"} 1.0' in text
    assert "seiketsu_http_request_duration_seconds_bucket" in text


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"


def test_openapi_describes_every_api_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for method, path, _ in api_routes(client.app):  # type: ignore[arg-type]
        assert method.lower() in spec["paths"][path], f"{method} {path} missing from the OpenAPI document"


def test_unknown_routes_and_methods_are_problem_json(client: TestClient) -> None:
    response = client.get("/api/v1/nope")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    response = client.patch("/healthz")
    assert response.status_code == 405 and response.json()["status"] == 405


def test_unexpected_errors_are_500_without_internals(container: Container) -> None:
    app = create_app(container.settings, container=container)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail at /srv/app.py")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["title"] == "Internal Server Error"
    assert "secret internal detail" not in response.text


@pytest.mark.parametrize(
    ("raw", "hidden", "kept"),
    [
        ("calling +15125550142 now", "5125550142", "+1********42"),
        ("caller (512) 555-0142 hung up", "555-0142", "hung up"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi", "[redacted]"),
        ("password=hunter2 for user", "hunter2", "[redacted]"),
        ("key sk_0123456789ab_SECRETPART used", "SECRETPART", "sk_0123456789ab_[redacted]"),
        ("on 2026-11-25 at 17:00:26", "", "2026-11-25 at 17:00:26"),
    ],
)
def test_logs_mask_phone_numbers_and_redact_secrets(raw: str, hidden: str, kept: str) -> None:
    cleaned = redact(raw)
    if hidden:
        assert hidden not in cleaned
    assert kept in cleaned


def test_log_records_are_redacted_before_any_handler_sees_them(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("seiketsu.test")
    with caplog.at_level(logging.INFO):
        logger.info("dialing %s with token=%s", "+15125550142", "abcdef123456")
    message = caplog.records[-1].getMessage()
    assert "5125550142" not in message and "abcdef123456" not in message
