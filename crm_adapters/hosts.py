"""Where a vendor's requests may go: its documented hosts, over https, and nowhere a tenant's setting chooses.

Each adapter checks every URL it takes from an integration (settings, and credentials a vendor returned such as
Salesforce's ``instance_url``) against its vendor's :class:`HostRule`. Pointing a vendor at a local double is
server configuration (``CRM_BASE_URLS``), handed to the adapter as ``AdapterConfig.base_url``, never a setting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from crm_adapters.errors import CRMConfigError

DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
"""One DNS label (RFC 1123): letters, digits and inner hyphens, at most 63 characters; no dots."""


@dataclass(frozen=True, slots=True)
class HostRule:
    """The hosts a vendor documents for one purpose, and how to say so in an error."""

    description: str
    pattern: re.Pattern[str]

    @classmethod
    def matching(cls, description: str, pattern: str) -> HostRule:
        return cls(description, re.compile(pattern))

    @classmethod
    def exactly(cls, urls: Iterable[str]) -> HostRule:
        """Only the hosts of ``urls``."""
        listed = list(urls)
        hosts = [urlsplit(url).hostname or "" for url in listed]
        return cls(", ".join(listed), re.compile("|".join(re.escape(host) for host in hosts)))

    def origin(self, url: str, *, vendor: str, field: str) -> str:
        """``https://{host}`` of ``url``, if it is an https URL on one of the hosts, without port, credentials,
        path or query; raises :class:`CRMConfigError` naming ``field`` otherwise."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            parts, port = None, None
        host = parts.hostname if parts is not None else None
        if (
            parts is None
            or parts.scheme != "https"
            or host is None
            or not self.pattern.fullmatch(host)
            or parts.username is not None
            or parts.password is not None
            or port not in (None, 443)
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise CRMConfigError(f"{field.rsplit('.', 1)[-1]} must be {self.description}", vendor=vendor, field=field)
        return f"https://{host}"
