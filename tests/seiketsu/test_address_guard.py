"""The outbound address guard: which addresses it refuses, and that a guarded client only ever connects to the
address it vetted, request by request (DNS rebinding)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from seiketsu.address_guard import GuardedTransport, TargetRefused, forbidden
from tests.addresses import EMBEDDED_INTERNAL, INTERNAL_IPV4, PUBLIC_ADDRESS, FakeResolver, RecordingNetwork, carrying


@pytest.mark.parametrize("address", EMBEDDED_INTERNAL)
def test_every_ipv6_form_carrying_an_internal_ipv4_address_is_refused(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["64:ff9b:1::808:808", "2001:db8::1", "100::1", "fd12:3456::1", "ff02::1"])
def test_non_global_ipv6_ranges_are_refused(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC_ADDRESS, "2606:4700::6810:84e5", carrying("8.8.8.8")["6to4"]])
def test_public_addresses_pass(address: str) -> None:
    assert not forbidden(ipaddress.ip_address(address))


def test_the_ipv4_carried_is_what_refuses_a_6to4_address() -> None:
    assert forbidden(ipaddress.ip_address(carrying("10.0.0.1")["6to4"]))
    assert not forbidden(ipaddress.ip_address(carrying("8.8.8.8")["6to4"]))


def guarded(resolver: FakeResolver, network: RecordingNetwork, *, allow_private: bool = False) -> httpx.AsyncClient:
    transport = GuardedTransport(lambda: network, resolver=resolver, allow_private=allow_private)
    return httpx.AsyncClient(transport=transport)


async def test_a_request_goes_to_the_vetted_address_with_its_host_name_kept_for_host_and_tls() -> None:
    network = RecordingNetwork()
    async with guarded(FakeResolver(), network) as client:
        await client.get("https://api.crm.example:8443/v1/ping?x=1")
    [request] = network.sent
    assert str(request.url) == f"https://{PUBLIC_ADDRESS}:8443/v1/ping?x=1"
    assert request.headers["host"] == "api.crm.example:8443"
    assert request.extensions["sni_hostname"] == "api.crm.example"


@pytest.mark.parametrize("ipv4", INTERNAL_IPV4)
async def test_a_name_rebound_to_an_internal_address_after_a_first_request_is_refused(ipv4: str) -> None:
    resolver = FakeResolver()
    network = RecordingNetwork()
    async with guarded(resolver, network) as client:
        await client.get("https://api.crm.example/first")
        for address in [ipv4, *carrying(ipv4).values()]:
            resolver.table["api.crm.example"] = [address]
            with pytest.raises(TargetRefused):
                await client.get("https://api.crm.example/second")
    assert [request.url.path for request in network.sent] == ["/first"]


async def test_each_host_gets_connections_of_its_own() -> None:
    created: list[RecordingNetwork] = []

    def network() -> RecordingNetwork:
        created.append(RecordingNetwork())
        return created[-1]

    transport = GuardedTransport(network, resolver=FakeResolver())  # both names resolve to one address
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://a.crm.example/")
        await client.get("https://b.crm.example/")
        await client.get("https://a.crm.example/again")
    assert [[r.headers["host"] for r in n.sent] for n in created] == [["a.crm.example"] * 2, ["b.crm.example"]]


async def test_a_name_that_does_not_resolve_is_a_connection_error() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    transport = GuardedTransport(lambda: RecordingNetwork(), resolver=fail)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="cannot resolve"):
            await client.get("https://nowhere.example/")


async def test_development_may_reach_a_local_double_over_http() -> None:
    network = RecordingNetwork()
    async with guarded(FakeResolver(), network) as client:
        with pytest.raises(TargetRefused):
            await client.get("http://127.0.0.1:9000/")
    async with guarded(FakeResolver(), network, allow_private=True) as client:
        await client.get("http://127.0.0.1:9000/")
    assert [str(request.url) for request in network.sent] == ["http://127.0.0.1:9000/"]
