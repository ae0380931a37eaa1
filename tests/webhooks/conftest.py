"""Fixtures of the webhook tests: the app's webhook runtime with a fake resolver and quick retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seiketsu.container import Container
from tests.addresses import FakeResolver
from tests.webhooks.support import runtime_of


@pytest.fixture
def resolver(client: TestClient, container: Container) -> FakeResolver:
    fake = FakeResolver()
    runtime_of(container).resolver = fake
    return fake


@pytest.fixture
def local_targets(client: TestClient, container: Container) -> Iterator[None]:
    """Deliveries may go to the local receiver (ALLOW_PRIVATE_WEBHOOK_TARGETS), retried without waiting."""
    runtime = runtime_of(container)
    runtime.allow_private_targets = True
    runtime.retry_schedule = (0.0, 0.0, 0.0)
    yield
