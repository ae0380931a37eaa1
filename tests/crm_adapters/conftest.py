from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """Every request must match a route; a test's routes need not all be called."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock
