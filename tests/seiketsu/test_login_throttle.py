"""Sign-in throttling keys on the real client address, and guessing cannot lock an account's owner out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from seiketsu.app import create_app
from seiketsu.auth.api import LOGIN_ATTEMPTS_PER_ACCOUNT_AND_ADDRESS, LOGIN_ATTEMPTS_PER_ADDRESS
from seiketsu.container import Container
from tests.factories import PASSWORD, OrgFixture, make_org

PROXY = "10.0.0.2"


@pytest.fixture
def app(container: Container) -> Iterator[FastAPI]:
    settings = replace(container.settings, trusted_proxies=("10.0.0.0/8",))
    container.settings = settings
    yield create_app(settings, container=container)


def _from(app: FastAPI, address: str) -> TestClient:
    """A client whose connection comes from ``address`` (the socket's peer as the server sees it)."""
    return TestClient(app, client=(address, 40000))


def _attempt(client: TestClient, org: OrgFixture, password: str, **headers: str) -> int:
    body = {"email": org.admin_email, "password": password, "organizationSlug": org.slug}
    return client.post("/api/v1/auth/login", json=body, headers=headers).status_code


def test_guessing_from_one_address_leaves_the_owner_free_to_sign_in_from_another(
    app: FastAPI, container: Container
) -> None:
    org = make_org(container, "acme")
    attacker = _from(app, "198.51.100.7")
    answers = [_attempt(attacker, org, f"guess {i}") for i in range(LOGIN_ATTEMPTS_PER_ACCOUNT_AND_ADDRESS + 3)]
    assert answers == [401] * LOGIN_ATTEMPTS_PER_ACCOUNT_AND_ADDRESS + [429] * 3
    # Even the right password waits at the attacker's address; the owner's own address is untouched.
    assert _attempt(attacker, org, PASSWORD) == 429
    assert _attempt(_from(app, "203.0.113.9"), org, PASSWORD) == 200


def test_rotating_x_forwarded_for_from_an_untrusted_socket_gains_nothing(app: FastAPI, container: Container) -> None:
    org = make_org(container, "acme")
    attacker = _from(app, "198.51.100.7")
    answers = [
        _attempt(attacker, org, f"guess {i}", **{"X-Forwarded-For": f"192.0.2.{i}"})
        for i in range(LOGIN_ATTEMPTS_PER_ACCOUNT_AND_ADDRESS + 2)
    ]
    assert answers[-2:] == [429, 429]
    # Naming the owner's address in the header does not spend the owner's budget either.
    spoofed = [_attempt(attacker, org, "guess", **{"X-Forwarded-For": "203.0.113.9"}) for _ in range(3)]
    assert spoofed == [429] * 3
    assert _attempt(_from(app, "203.0.113.9"), org, PASSWORD) == 200


def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(app: FastAPI, container: Container) -> None:
    org = make_org(container, "acme")
    proxy = _from(app, PROXY)
    attacker = {"X-Forwarded-For": f"198.51.100.7, {PROXY}"}
    answers = [_attempt(proxy, org, "guess", **attacker) for _ in range(LOGIN_ATTEMPTS_PER_ACCOUNT_AND_ADDRESS + 1)]
    assert answers[-1] == 429
    # The proxy's other clients, the owner among them, are not the attacker.
    assert _attempt(proxy, org, PASSWORD, **{"X-Forwarded-For": "203.0.113.9"}) == 200
    # A client cannot pass itself off as the proxy by prepending addresses: the rightmost untrusted one counts.
    forged = {"X-Forwarded-For": f"203.0.113.9, 198.51.100.7, {PROXY}"}
    assert _attempt(proxy, org, "guess", **forged) == 429


def test_one_address_trying_many_accounts_is_throttled(app: FastAPI, container: Container) -> None:
    org = make_org(container, "acme")
    sprayer = _from(app, "198.51.100.7")
    answers = [
        sprayer.post(
            "/api/v1/auth/login",
            json={"email": f"user{i}@acme.test", "password": "Winter2026!", "organizationSlug": org.slug},
        ).status_code
        for i in range(LOGIN_ATTEMPTS_PER_ADDRESS + 1)
    ]
    assert answers == [401] * LOGIN_ATTEMPTS_PER_ADDRESS + [429]
    assert _attempt(_from(app, "203.0.113.9"), org, PASSWORD) == 200
