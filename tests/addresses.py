"""Addresses for the outbound address guard's tests: internal IPv4 targets in every IPv6 form that carries IPv4,
and a resolver answering from a table."""

from __future__ import annotations

import ipaddress

import httpx

PUBLIC_ADDRESS = "93.184.215.14"
"""A public address the fake resolver gives names that should pass the address guard."""

INTERNAL_IPV4 = ("127.0.0.1", "10.0.0.1", "169.254.169.254")
TEREDO_SERVER = "65.54.227.120"


def carrying(ipv4: str) -> dict[str, str]:
    """``ipv4`` in each IPv6 form that carries an IPv4 address, by form."""
    value = int(ipaddress.IPv4Address(ipv4))
    high, low = value >> 16, value & 0xFFFF
    server = int(ipaddress.IPv4Address(TEREDO_SERVER))
    client = value ^ 0xFFFFFFFF  # Teredo stores the client's address inverted
    return {
        "ipv4-mapped": f"::ffff:{ipv4}",
        "ipv4-compatible": f"::{ipv4}",
        "6to4": f"2002:{high:x}:{low:x}::1",
        "nat64": f"64:ff9b::{ipv4}",
        "nat64-local": f"64:ff9b:1::{ipv4}",
        "teredo-client": f"2001:0:{server >> 16:x}:{server & 0xFFFF:x}:0:ffff:{client >> 16:x}:{client & 0xFFFF:x}",
        "teredo-server": f"2001:0:{high:x}:{low:x}:0:ffff:0:1",
    }


EMBEDDED_INTERNAL = [form for ipv4 in INTERNAL_IPV4 for form in carrying(ipv4).values()]
"""Every internal IPv4 target in every IPv6 form carrying it."""


class FakeResolver:
    """Answers from a table; a name not in it resolves to ``PUBLIC_ADDRESS``."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = dict(table or {})
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return list(self.table.get(host, [PUBLIC_ADDRESS]))


class RecordingNetwork(httpx.AsyncBaseTransport):
    """Stands for the network below the guard: records what would have been sent, answers 200 with ``answer``."""

    def __init__(self, answer: object = None) -> None:
        self.sent: list[httpx.Request] = []
        self.answer = {} if answer is None else answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json=self.answer)
