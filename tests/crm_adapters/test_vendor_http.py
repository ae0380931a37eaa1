"""Transport-level behaviour shared by every adapter: error mapping and one-at-a-time token refresh."""

import asyncio

import httpx
import pytest

from crm_adapters.errors import CRMAuthError, CRMConfigError, RetryableCRMError
from crm_adapters.oauth import OAuthSession
from crm_adapters.vendor_http import ErrorDetail, StaticAuth, VendorClient, classify

from .samples import NOW, clock

BASE = "https://crm.example.com"


def _client(http: httpx.AsyncClient, base_url: str = BASE) -> VendorClient:
    return VendorClient(
        vendor="example",
        http=http,
        base_url=lambda: base_url,
        auth=StaticAuth({"Authorization": "Bearer t"}),
        error_for=lambda response: classify(response, vendor="example", detail=ErrorDetail(None, "")),
    )


@pytest.mark.parametrize(
    "exception",
    [httpx.ConnectTimeout("x"), httpx.ReadTimeout("x"), httpx.PoolTimeout("x")],
)
async def test_timeouts_are_retryable_and_chained(http, router, exception):
    router.get(f"{BASE}/ping").mock(side_effect=exception)
    with pytest.raises(RetryableCRMError, match="timed out") as caught:
        await _client(http).request("GET", "/ping")
    assert caught.value.__cause__ is exception
    assert caught.value.retry_after is None


@pytest.mark.parametrize("exception", [httpx.ConnectError("refused"), httpx.RemoteProtocolError("eof")])
async def test_connection_errors_are_retryable(http, router, exception):
    router.get(f"{BASE}/ping").mock(side_effect=exception)
    with pytest.raises(RetryableCRMError, match="connection failed") as caught:
        await _client(http).request("GET", "/ping")
    assert caught.value.__cause__ is exception


async def test_a_base_url_without_a_scheme_is_a_configuration_error(http):
    with pytest.raises(CRMConfigError):
        await _client(http, base_url="ftp://crm.example.com").request("GET", "/ping")


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(408, RetryableCRMError), (503, RetryableCRMError), (401, CRMAuthError), (403, CRMAuthError)],
)
async def test_statuses_are_classified(http, router, status, error_type):
    router.get(f"{BASE}/ping").respond(status)
    with pytest.raises(error_type) as caught:
        await _client(http).request("GET", "/ping")
    assert caught.value.status == status


async def test_concurrent_requests_share_one_refresh():
    refreshes = 0
    reported = []

    async def refresher(current):
        nonlocal refreshes
        refreshes += 1
        await asyncio.sleep(0.01)
        return {"access_token": f"new-{refreshes}", "expires_at": str(int(NOW + 1800))}

    async def on_refreshed(credentials):
        reported.append(dict(credentials))

    session = OAuthSession(
        vendor="example",
        credentials={"access_token": "old", "refresh_token": "r", "expires_at": str(int(NOW + 10))},
        refresher=refresher,
        on_refreshed=on_refreshed,
        clock=clock,
    )
    headers = await asyncio.gather(*(session.headers() for _ in range(5)))
    assert refreshes == 1
    assert all(h == {"Authorization": "Bearer new-1"} for h in headers)
    assert reported == [{"access_token": "new-1", "refresh_token": "r", "expires_at": str(int(NOW + 1800))}]
    # a rejection of a token that has since been replaced does not refresh again
    assert await session.refresh({"Authorization": "Bearer old"}) is True
    assert refreshes == 1


async def test_a_session_without_refresher_cannot_refresh():
    session = OAuthSession(
        vendor="example", credentials={"access_token": "t"}, refresher=None, on_refreshed=None, clock=clock
    )
    assert await session.headers() == {"Authorization": "Bearer t"}
    assert await session.refresh({"Authorization": "Bearer t"}) is False
