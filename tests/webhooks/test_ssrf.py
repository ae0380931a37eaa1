"""Targets inside our network are refused, by address and by what a name resolves to, at registration and again
at send time (DNS rebinding)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from seiketsu.address_guard import TargetRefused, vet
from seiketsu.container import Container
from tests.addresses import EMBEDDED_INTERNAL, PUBLIC_ADDRESS, FakeResolver
from tests.factories import login, make_org

INTERNAL = ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "192.168.1.1", "172.16.0.1",
            "100.64.0.1", "0.0.0.0", "224.0.0.1", "fc00::1", "fe80::1", *EMBEDDED_INTERNAL]  # fmt: skip


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_refused(address: str) -> None:
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(TargetRefused):
        vet(f"https://{literal}/hook", resolver=FakeResolver(), allow_private=False)


@pytest.mark.parametrize("address", INTERNAL)
def test_names_resolving_to_internal_addresses_are_refused(address: str) -> None:
    resolver = FakeResolver({"hooks.brokerage.example": [address]})
    with pytest.raises(TargetRefused, match="private, loopback, link-local or reserved"):
        vet("https://hooks.brokerage.example/hook", resolver=resolver, allow_private=False)


def test_one_internal_address_among_public_ones_is_enough_to_refuse() -> None:
    resolver = FakeResolver({"hooks.brokerage.example": [PUBLIC_ADDRESS, "127.0.0.1"]})
    with pytest.raises(TargetRefused):
        vet("https://hooks.brokerage.example/hook", resolver=resolver, allow_private=False)


def test_a_public_target_is_vetted_to_its_address() -> None:
    target = vet("https://hooks.brokerage.example:8443/in?x=1", resolver=FakeResolver(), allow_private=False)
    assert target.address == PUBLIC_ADDRESS and target.host == "hooks.brokerage.example"


@pytest.mark.parametrize(
    "url", ["http://hooks.brokerage.example/", "ftp://hooks.brokerage.example/", "https://user:pw@hooks.example/", "/x"]
)
def test_malformed_or_plain_http_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        vet(url, resolver=FakeResolver(), allow_private=False)


def test_development_may_allow_private_targets() -> None:
    target = vet("http://127.0.0.1:9000/hook", resolver=FakeResolver(), allow_private=True)
    assert target.address == "127.0.0.1"


def test_unresolvable_names_are_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(TargetRefused, match="cannot resolve"):
        vet("https://nowhere.example/", resolver=fail, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["https://10.1.2.3/hook", "https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data/",
     "https://[::1]/hook", "https://metadata.internal.example/hook",
     *(f"https://[{address}]/hook" for address in EMBEDDED_INTERNAL), "https://rebound.example/hook"],
)  # fmt: skip
def test_registering_an_internal_target_is_a_422_naming_the_url(
    client: TestClient, container: Container, resolver: FakeResolver, url: str
) -> None:
    resolver.table["metadata.internal.example"] = ["169.254.169.254"]
    resolver.table["rebound.example"] = ["2002:a9fe:a9fe::1"]  # 6to4 carrying 169.254.169.254
    org = make_org(container, "ssrf")
    response = client.post(
        "/api/v1/webhook-endpoints", headers=login(client, org), json={"url": url, "events": ["call.completed"]}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.url"
