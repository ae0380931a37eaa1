"""OAuth 2.0 access tokens that refresh themselves, once at a time, and report the result to the owner.

Credentials are a flat ``dict[str, str]`` as the integration stores them (decrypted by the caller). The
keys used here: ``access_token``, ``refresh_token``, ``client_id``, ``client_secret`` and ``expires_at``
(POSIX seconds, written by us after a refresh). A vendor's refresher may add its own (``instance_url``,
``api_domain``). After each refresh the full new credentials go to ``on_refreshed`` so they can be
persisted; if the vendor rotates refresh tokens, losing them would disconnect the integration.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

import httpx

from crm_adapters.errors import CRMAuthError, parse_seconds
from crm_adapters.vendor_http import ErrorDetail, classify, json_or_none, send

logger = logging.getLogger(__name__)

CredentialsCallback = Callable[[Mapping[str, str]], Awaitable[None]]
"""Receives the complete credentials after a refresh, for the caller to encrypt and store."""

TokenRefresher = Callable[[Mapping[str, str]], Awaitable[Mapping[str, str]]]
"""Given the current credentials, obtains new ones from the vendor; returns only the changed entries."""

EXPIRY_MARGIN_SECONDS = 120.0
"""Refresh this long before ``expires_at``, so a token never expires between check and use."""


class OAuthSession:
    """The current credentials of one integration, refreshed proactively (expiry) and on rejection."""

    def __init__(
        self,
        *,
        vendor: str,
        credentials: Mapping[str, str],
        refresher: TokenRefresher | None,
        on_refreshed: CredentialsCallback | None,
        clock: Callable[[], float],
        scheme: str = "Bearer",
    ) -> None:
        self._vendor = vendor
        self._credentials: Mapping[str, str] = MappingProxyType(dict(credentials))
        self._refresher = refresher
        self._on_refreshed = on_refreshed
        self._clock = clock
        self._scheme = scheme
        self._lock = asyncio.Lock()

    @property
    def credentials(self) -> Mapping[str, str]:
        return self._credentials

    def _authorization(self) -> str:
        return f"{self._scheme} {self._credentials.get('access_token', '')}"

    def _needs_refresh(self) -> bool:
        if self._refresher is None:
            return False
        if not self._credentials.get("access_token"):
            return True
        expires_at = parse_seconds(self._credentials.get("expires_at"))
        return expires_at is not None and expires_at - EXPIRY_MARGIN_SECONDS <= self._clock()

    async def headers(self) -> Mapping[str, str]:
        if self._needs_refresh():
            await self._refresh(stale=self._authorization())
        if not self._credentials.get("access_token"):
            raise CRMAuthError("no access token and no way to obtain one", vendor=self._vendor)
        return {"Authorization": self._authorization()}

    async def refresh(self, rejected: Mapping[str, str]) -> bool:
        if self._refresher is None:
            return False
        await self._refresh(stale=rejected.get("Authorization", ""))
        return True

    async def _refresh(self, *, stale: str) -> None:
        refresher = self._refresher
        if refresher is None:
            return
        async with self._lock:
            if self._authorization() != stale:
                return  # another request refreshed while this one waited for the lock
            updates = await refresher(self._credentials)
            self._credentials = MappingProxyType({**self._credentials, **updates})
            logger.info("refreshed the %s access token", self._vendor)
            if self._on_refreshed is not None:
                await self._on_refreshed(self._credentials)


def can_refresh(credentials: Mapping[str, str]) -> bool:
    """Whether the credentials carry what a refresh-token grant needs."""
    return all(credentials.get(key) for key in ("refresh_token", "client_id", "client_secret"))


async def request_token(
    http: httpx.AsyncClient,
    *,
    vendor: str,
    url: str,
    form: Mapping[str, str],
    clock: Callable[[], float],
) -> dict[str, Any]:
    """POST a form to a token endpoint and return its JSON, with ``expires_at`` added from ``expires_in``.

    A refusal (4xx, or an ``error`` member in a 200 answer, as Zoho sends) is a :class:`CRMAuthError`;
    the form holds secrets, so it goes in the body, never in the URL that httpx logs.
    """
    request = http.build_request("POST", url, data=dict(form), headers={"Accept": "application/json"})
    response = await send(http, request, vendor=vendor)
    body = json_or_none(response)
    if response.is_success and isinstance(body, dict) and body.get("access_token") and "error" not in body:
        token: dict[str, Any] = dict(body)
        expires_in = parse_seconds(str(body.get("expires_in", "")))
        if expires_in is not None:
            token["expires_at"] = str(int(clock() + expires_in))
        return token
    detail = _token_error(body)
    if response.status_code >= 500 or response.status_code == 429:
        raise classify(response, vendor=vendor, detail=detail)
    raise CRMAuthError(
        f"token refresh refused: {detail.message}",
        vendor=vendor,
        status=response.status_code,
        vendor_code=detail.code,
    )


def _token_error(body: Any) -> ErrorDetail:
    if not isinstance(body, dict):
        return ErrorDetail(code=None, message="no readable answer from the token endpoint")
    code = body.get("error") or body.get("status")
    message = body.get("error_description") or body.get("message") or code or "refused"
    return ErrorDetail(code=str(code) if code else None, message=str(message))


def credential_updates(token: Mapping[str, Any], *, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """The entries of a token answer worth storing: the tokens, ``expires_at`` and any ``extra`` keys."""
    keys = ("access_token", "refresh_token", "expires_at", *extra)
    return {key: str(token[key]) for key in keys if token.get(key)}
