"""Refusing webhook targets inside our own network.

A target's host is resolved and every address it resolves to must be public: private, loopback, link-local,
reserved, multicast, unspecified and shared (carrier-grade NAT) ranges are refused, IPv4-mapped IPv6 addresses
judged by the IPv4 address they carry. The request is then sent to the vetted address itself (the URL's host
kept for ``Host`` and TLS), so a DNS answer that changes between the check and the connection (rebinding) is
never used. ``allow_private`` (``ALLOW_PRIVATE_WEBHOOK_TARGETS``, development only) skips the address check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

Resolver = Callable[[str, int], list[str]]
"""host, port -> the addresses the host resolves to (raises OSError when it does not)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL is malformed, or its host is (or resolves to) an address we must not call."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden(address: IPAddress) -> bool:
    """Whether calling ``address`` could reach something that is not the public internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return forbidden(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


@dataclass(frozen=True, slots=True)
class VettedTarget:
    """A URL whose host was checked, and the address to connect to."""

    url: str
    host: str
    address: str

    def pinned_url(self) -> str:
        """The URL with its host replaced by the vetted address (the original host goes in ``Host`` and SNI)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, ""))

    def host_header(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc.rsplit("@", 1)[-1]


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
    """Resolve the URL's host and check every address; raises TargetRefused."""
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
            raise TargetRefused(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise TargetRefused(f"{host} resolves to no address")
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
