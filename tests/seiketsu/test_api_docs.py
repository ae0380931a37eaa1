"""The browsable API docs work offline: every script, style and icon they load is served by the app itself."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

_LOADED = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_assets_the_app_serves(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert not re.search(r"https?://", response.text), "the page loads something from another host"
    assets = _LOADED.findall(response.text)
    assert any(asset.endswith(".js") for asset in assets), "no script found in the page"
    for asset in assets:
        assert asset.startswith("/docs/assets/"), f"{asset} is not one of the app's own assets"
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 1000, asset


@pytest.mark.parametrize(
    ("page", "reference"), [("/docs", "url: '/openapi.json'"), ("/redoc", 'spec-url="/openapi.json"')]
)
def test_docs_pages_read_the_apps_openapi_document(client: TestClient, page: str, reference: str) -> None:
    assert reference in client.get(page).text
    assert client.get("/openapi.json").json()["info"]["title"] == "Seiketsu"
