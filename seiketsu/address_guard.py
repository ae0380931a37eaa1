"""Refusing outbound requests (webhook deliveries, CRM calls) that would reach inside our own network.

A target's host is resolved and every address it resolves to must be public: an address is refused unless
``ipaddress`` calls it global, and private, loopback, link-local, reserved, multicast, unspecified and shared
(carrier-grade NAT) ranges are refused whatever the Python version says. IPv6 forms that carry an IPv4 address
(IPv4-mapped ``::ffff:0:0/96``, IPv4-compatible ``::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64
``64:ff9b::/96``) are refused when the IPv4 address they carry is, and the local-use NAT64 prefix
``64:ff9b:1::/48`` is refused outright. The request is then sent to the vetted address itself (the URL's host
kept for ``Host`` and TLS), so a DNS answer that changes between the check and the connection (rebinding) is
never used: :func:`vet` for one request, :class:`GuardedTransport` for every request of an ``httpx`` client.
``allow_private`` (development only) skips the address check and allows plain http.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import SplitResult, urlsplit

import anyio.to_thread
import httpx

Resolver = Callable[[str, int], list[str]]
"""host, port -> the addresses the host resolves to (raises OSError when it does not)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
"""Where an operator's own translator embeds IPv4 at a prefix length of its choosing: never a public target."""


class TargetRefused(ValueError):
    """The URL is malformed, or its host is (or resolves to) an address we must not call."""


class UnresolvableTarget(TargetRefused):
    """The host does not resolve (now): refused at registration, a transient failure at send time."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def carried_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (6to4, Teredo server and client, NAT64, IPv4-compatible)."""
    carried: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried.extend(address.teredo)
    if address in NAT64_WELL_KNOWN or address in IPV4_COMPATIBLE:
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return tuple(carried)


def forbidden(address: IPAddress) -> bool:
    """Whether calling ``address`` could reach something that is not the public internet."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return forbidden(address.ipv4_mapped)
        if address in NAT64_LOCAL_USE or any(forbidden(v4) for v4 in carried_ipv4(address)):
            return True
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


@dataclass(frozen=True, slots=True)
class VettedTarget:
    """A URL whose host was checked, and the address to connect to."""

    url: str
    host: str
    address: str


def check_url(url: str, *, require_https: bool) -> SplitResult:
    """The URL's parts, if it is an absolute http(s) URL without credentials; raises TargetRefused."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError as exc:
        raise TargetRefused(f"malformed URL: {exc}") from exc
    schemes = ("https",) if require_https else ("http", "https")
    if parts.scheme not in schemes:
        raise TargetRefused(f"the URL must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not carry credentials")
    return parts


def vet(url: str, *, resolver: Resolver, allow_private: bool) -> VettedTarget:
    """Resolve the URL's host and check every address; raises TargetRefused (UnresolvableTarget)."""
    parts = check_url(url, require_https=not allow_private)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolver(host, port)
        except OSError as exc:
            raise UnresolvableTarget(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise UnresolvableTarget(f"{host} resolves to no address")
    parsed: list[IPAddress] = []
    for raw in addresses:
        try:
            parsed.append(ipaddress.ip_address(raw.split("%", 1)[0]))
        except ValueError as exc:
            raise TargetRefused(f"{host} resolves to an unusable address") from exc
    if not allow_private:
        refused = [str(a) for a in parsed if forbidden(a)]
        if refused:
            raise TargetRefused(f"{host} resolves to a private, loopback, link-local or reserved address")
    return VettedTarget(url=url, host=host, address=str(parsed[0]))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class GuardedTransport(httpx.AsyncBaseTransport):
    """Vets every request's host (resolved off the event loop) and connects to the vetted address only.

    Raises :class:`TargetRefused` for a refused target; a host that does not resolve is an
    ``httpx.ConnectError`` like any other connection failure. Each host gets a transport (connection pool) of
    its own from ``transport_factory``, so a connection opened with one host's TLS name never carries another
    host's request.
    """

    def __init__(
        self,
        transport_factory: Callable[[], httpx.AsyncBaseTransport],
        *,
        resolver: Resolver = system_resolver,
        allow_private: bool = False,
    ) -> None:
        self._factory = transport_factory
        self._resolver = resolver
        self._allow_private = allow_private
        self._transports: dict[str, httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check = partial(vet, str(request.url), resolver=self._resolver, allow_private=self._allow_private)
        try:
            # a name is resolved on a worker thread (getaddrinfo blocks); an address literal needs no lookup
            target = check() if _is_address(request.url.host) else await anyio.to_thread.run_sync(check)
        except UnresolvableTarget as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        request.url = request.url.copy_with(host=target.address)  # Host header was set from the original URL
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": target.host}
        transport = self._transports.get(target.host)
        if transport is None:
            transport = self._transports[target.host] = self._factory()
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        transports, self._transports = list(self._transports.values()), {}
        for transport in transports:
            await transport.aclose()
