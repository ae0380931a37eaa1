"""Shared fixtures: a real PostgreSQL database and a real Redis for the test run, cleaned between tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from redis import Redis

from seiketsu.auth.passwords import Passwords
from seiketsu.container import Container, build_container
from seiketsu.migrate import upgrade
from seiketsu.settings import Settings
from seiketsu.wiring import all_metadata

ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def fast_passwords() -> Passwords:
    """The real Argon2id, with cost parameters low enough for a test suite."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated to head."""
    name = f"seiketsu_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(make_settings(database_url=url))
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(**overrides: object) -> Settings:
    base = Settings(
        database_url="sqlite://",
        secret_key=TEST_SECRET,
        public_base_url="https://seiketsu.test",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="test-twilio-auth-token",
        twilio_api_base_url="https://api.twilio.test",
        job_backoff_base_seconds=0.0,
        warm_up_voice=False,
        freeze_gc_after_start=False,  # hundreds of apps a run: frozen objects would never be collected
        malloc_trim_interval_seconds=0.0,  # no trimmer thread per test app
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def redis_client() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(pg_url: str, redis_client: Redis) -> Settings:
    return make_settings(database_url=pg_url, redis_url=REDIS_URL, embedded_jobs=False)


def truncate(container: Container) -> None:
    """Empty every table of the test database (for tests that build a container of their own)."""
    tables = ", ".join(f'"{table.name}"' for table in all_metadata().sorted_tables)
    with container.engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    container = build_container(settings, passwords=fast_passwords())
    try:
        yield container
    finally:
        truncate(container)
        container.close()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'seiketsu.db'}")
    upgrade(settings)
    return settings


@pytest.fixture
def sqlite_container(sqlite_settings: Settings) -> Iterator[Container]:
    container = build_container(sqlite_settings, passwords=fast_passwords())
    yield container
    container.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    from seiketsu.app import create_app

    with TestClient(create_app(container.settings, container=container)) as test_client:
        yield test_client
