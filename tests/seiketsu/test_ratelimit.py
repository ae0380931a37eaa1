from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from redis import Redis

from seiketsu.container import Container
from seiketsu.ratelimit import MemoryRateLimiter, RedisRateLimiter
from seiketsu.tenancy.models import Organization
from seiketsu.tenancy.scoping import system_session
from tests.factories import OrgFixture, login, make_api_key, make_org


def _limit(container: Container, org: OrgFixture, per_minute: int) -> None:
    with system_session(container.sessions) as session:
        record = session.get(Organization, org.id)
        assert record is not None
        record.api_requests_per_minute = per_minute
        session.commit()


def test_organization_limit_answers_429_with_retry_after(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    other = make_org(container, "other")
    _limit(container, org, 5)
    headers = login(client, org)
    statuses = [client.get("/api/v1/leads", headers=headers).status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429, 429]
    response = client.get("/api/v1/leads", headers=headers)
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= 12
    # Another organization's budget is its own.
    assert client.get("/api/v1/leads", headers=login(client, other)).status_code == 200


def test_api_keys_share_the_organization_budget_and_have_their_own(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    _limit(container, org, 4)
    key_a = {"X-API-Key": make_api_key(container, org)}
    key_b = {"X-API-Key": make_api_key(container, org)}
    codes = [client.get("/api/v1/leads", headers=key_a if i % 2 else key_b).status_code for i in range(6)]
    assert codes.count(200) == 4 and codes[-1] == 429


def test_redis_bucket_refills_and_is_shared_between_limiters(redis_client: Redis) -> None:
    first, second = RedisRateLimiter(redis_client), RedisRateLimiter(redis_client)
    key = f"test:{uuid.uuid4()}"
    assert all(first.hit(key, per_minute=3).allowed for _ in range(2))
    assert second.hit(key, per_minute=3).allowed
    denied = second.hit(key, per_minute=3)
    assert not denied.allowed and 0 < denied.retry_after <= 20
    assert redis_client.ttl(f"seiketsu:rl:{key}") > 0


def test_memory_bucket_for_embedded_mode() -> None:
    limiter = MemoryRateLimiter()
    assert [limiter.hit("k", per_minute=2).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("other", per_minute=2).allowed


def test_login_attempts_are_throttled(client: TestClient, container: Container) -> None:
    org = make_org(container, "acme")
    body = {"email": org.admin_email, "password": "wrong password", "organizationSlug": org.slug}
    codes = [client.post("/api/v1/auth/login", json=body).status_code for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
