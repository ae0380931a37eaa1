"""The one way adapters talk HTTP: authenticate, send, refresh once on an expired token, classify failures.

Transport failures become :class:`RetryableCRMError` (``raise ... from`` the httpx exception); a non-2xx
answer becomes whatever the vendor's ``error_for`` function makes of it, usually via :func:`classify`.
"""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from crm_adapters.errors import (
    CRMAuthError,
    CRMConfigError,
    CRMError,
    CRMQuotaExhaustedError,
    PermanentCRMError,
    RetryableCRMError,
)
from seiketsu.address_guard import TargetRefused

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Client-error statuses that mean "not now" rather than "not this"; every 5xx is retryable too."""


class RequestAuth(Protocol):
    """Supplies the authentication headers of a request and, where it can, fresh ones."""

    async def headers(self) -> Mapping[str, str]:
        """Headers to send now; may refresh a token that is about to expire."""

    async def refresh(self, rejected: Mapping[str, str]) -> bool:
        """Replace credentials the CRM rejected; ``True`` if a retry with new headers is worthwhile."""


class StaticAuth:
    """Fixed headers: API keys and tokens that nothing can refresh."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    async def refresh(self, rejected: Mapping[str, str]) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """The vendor's own code and message, read from an error body."""

    code: str | None
    message: str


def json_or_none(response: httpx.Response) -> Any:
    """The parsed body, or ``None`` when it is empty or not JSON (gateway pages, HTML from a firewall)."""
    if not response.content:
        return None
    try:
        return jsonlib.loads(response.content)
    except ValueError:
        return None


def response_json(response: httpx.Response, *, vendor: str) -> Any:
    """The parsed body of a successful answer; a body we cannot read is a permanent error."""
    body = json_or_none(response)
    if body is None:
        raise PermanentCRMError("unexpected response: the body is not JSON", vendor=vendor, status=response.status_code)
    return body


def classify(
    response: httpx.Response,
    *,
    vendor: str,
    detail: ErrorDetail,
    retry_after: float | None = None,
    quota_exhausted: bool = False,
) -> CRMError:
    """The error for a failed answer, by status: 408/425/429/5xx retryable, 401/403 auth, else permanent."""
    status = response.status_code
    message = detail.message or response.reason_phrase or "request failed"
    if quota_exhausted:
        return CRMQuotaExhaustedError(
            message, vendor=vendor, status=status, vendor_code=detail.code, retry_after=retry_after
        )
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableCRMError(
            message, vendor=vendor, status=status, vendor_code=detail.code, retry_after=retry_after
        )
    if status in (401, 403):
        return CRMAuthError(message, vendor=vendor, status=status, vendor_code=detail.code)
    return PermanentCRMError(message, vendor=vendor, status=status, vendor_code=detail.code)


async def send(http: httpx.AsyncClient, request: httpx.Request, *, vendor: str) -> httpx.Response:
    """Send one request; transport failures become CRM errors. Any HTTP status is returned as is."""
    try:
        return await http.send(request)
    except TargetRefused as exc:
        raise CRMConfigError(f"request refused: {exc}", vendor=vendor) from exc
    except httpx.TimeoutException as exc:
        raise RetryableCRMError(f"request timed out ({type(exc).__name__})", vendor=vendor) from exc
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        raise CRMConfigError(f"request could not be sent ({type(exc).__name__})", vendor=vendor) from exc
    except httpx.TransportError as exc:
        raise RetryableCRMError(f"connection failed ({type(exc).__name__})", vendor=vendor) from exc


def _is_unauthorized(response: httpx.Response) -> bool:
    return response.status_code == 401


class VendorClient:
    """An authenticated JSON client for one CRM account, over a shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        vendor: str,
        http: httpx.AsyncClient,
        base_url: Callable[[], str],
        auth: RequestAuth,
        error_for: Callable[[httpx.Response], CRMError],
        auth_expired: Callable[[httpx.Response], bool] = _is_unauthorized,
    ) -> None:
        self.vendor = vendor
        self._http = http
        self._base_url = base_url
        self._auth = auth
        self._error_for = error_for
        self._auth_expired = auth_expired

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send ``method path``; returns a 2xx response or raises a :class:`CRMError`.

        A response the vendor marks as an expired credential triggers one refresh and one retry.
        """
        headers = await self._auth.headers()
        response = await self._send(method, path, headers=headers, json=json, params=params)
        if self._auth_expired(response) and await self._auth.refresh(headers):
            # a refresh may move the account (Salesforce's instance_url), so the URL is rebuilt too
            response = await self._send(method, path, headers=await self._auth.headers(), json=json, params=params)
        if response.is_success:
            return response
        raise self._error_for(response)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any,
        params: Mapping[str, str | int] | None,
    ) -> httpx.Response:
        url = self._base_url().rstrip("/") + path
        try:
            request = self._http.build_request(
                method, url, json=json, params=params, headers={"Accept": "application/json", **headers}
            )
        except httpx.InvalidURL as exc:
            raise CRMConfigError("invalid base URL", vendor=self.vendor) from exc
        response = await send(self._http, request, vendor=self.vendor)
        if not response.is_success:
            logger.info("%s %s %s answered %s", self.vendor, method, request.url.path, response.status_code)
        return response

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        """:meth:`request` and parse the JSON object it answers; an empty answer (204) gives ``{}``."""
        response = await self.request(method, path, json=json, params=params)
        if not response.content:
            return {}
        body = response_json(response, vendor=self.vendor)
        if not isinstance(body, dict):
            raise PermanentCRMError(
                "unexpected response: not a JSON object", vendor=self.vendor, status=response.status_code
            )
        return body


def require_id(record: Any, *, vendor: str, key: str = "id") -> str:
    """``record[key]`` as a string; an answer without it is a permanent error (we cannot track the record)."""
    value = record.get(key) if isinstance(record, Mapping) else None
    if value is None or value == "":
        raise PermanentCRMError(f"unexpected response: no {key!r} in the answer", vendor=vendor)
    return str(value)
