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


class ManualClock:
    """The fakes' clock, moved by hand (``clock.now += 10``) to roll a rate-limit window."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
