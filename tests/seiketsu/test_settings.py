from __future__ import annotations

import stat
from pathlib import Path

import pytest

from seiketsu.settings import SECRET_FILE_NAME, ConfigError, load_settings


def test_defaults_are_the_embedded_mode(tmp_path: Path) -> None:
    settings = load_settings({}, workdir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'seiketsu.db'}"
    assert settings.redis_url is None and settings.embedded_jobs
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.twilio_api_base_url == "https://api.twilio.com"
    assert settings.malloc_trim_interval_seconds == 10.0


def test_the_heap_trimmer_can_be_slowed_or_turned_off(tmp_path: Path) -> None:
    assert load_settings({"MALLOC_TRIM_INTERVAL_SECONDS": "2.5"}, workdir=tmp_path).malloc_trim_interval_seconds == 2.5
    assert load_settings({"MALLOC_TRIM_INTERVAL_SECONDS": "0"}, workdir=tmp_path).malloc_trim_interval_seconds == 0.0


def test_the_web_apps_blocking_threads_are_few_by_default_and_configurable(tmp_path: Path) -> None:
    assert load_settings({}, workdir=tmp_path).blocking_threads == 2
    assert load_settings({"BLOCKING_THREADS": "12"}, workdir=tmp_path).blocking_threads == 12
    with pytest.raises(ConfigError, match="BLOCKING_THREADS"):
        load_settings({"BLOCKING_THREADS": "0"}, workdir=tmp_path)


def test_secret_key_is_generated_once_into_an_owner_only_file(tmp_path: Path) -> None:
    first = load_settings({}, workdir=tmp_path).secret_key
    path = tmp_path / SECRET_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_settings({}, workdir=tmp_path).secret_key == first
    assert first not in repr(load_settings({}, workdir=tmp_path))


def test_a_readable_secret_file_is_refused(tmp_path: Path) -> None:
    load_settings({}, workdir=tmp_path)
    (tmp_path / SECRET_FILE_NAME).chmod(0o644)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({}, workdir=tmp_path)


def test_postgres_urls_get_the_psycopg_driver(tmp_path: Path) -> None:
    settings = load_settings({"DATABASE_URL": "postgres://u@db/x", "SECRET_KEY": "k" * 40}, workdir=tmp_path)
    assert settings.database_url == "postgresql+psycopg://u@db/x"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"PUBLIC_BASE_URL": "ftp://example.com"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "not a url"}, "PUBLIC_BASE_URL"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
        ({"TWILIO_API_BASE_URL": "localhost:9000"}, "TWILIO_API_BASE_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"ACCESS_TOKEN_TTL_SECONDS": "soon"}, "ACCESS_TOKEN_TTL_SECONDS"),
        ({"ACCESS_TOKEN_TTL_SECONDS": "0"}, "ACCESS_TOKEN_TTL_SECONDS"),
        ({"AZURE_SPEECH_KEY": "k"}, "AZURE_SPEECH_REGION"),
        ({"ALLOW_PRIVATE_WEBHOOK_TARGETS": "maybe"}, "ALLOW_PRIVATE_WEBHOOK_TARGETS"),
        ({"JOB_BACKOFF_BASE_SECONDS": "-1"}, "JOB_BACKOFF_BASE_SECONDS"),
        ({"MALLOC_TRIM_INTERVAL_SECONDS": "often"}, "MALLOC_TRIM_INTERVAL_SECONDS"),
    ],
)
def test_a_bad_value_names_the_variable(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env, workdir=tmp_path)
    assert raised.value.variable == variable
    assert variable in str(raised.value)


def test_no_proxy_is_trusted_unless_configured(tmp_path: Path) -> None:
    assert load_settings({}, workdir=tmp_path).trusted_proxies == ()
    configured = load_settings({"TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1,,fd00::/8"}, workdir=tmp_path)
    assert configured.trusted_proxies == ("10.0.0.0/8", "192.0.2.1/32", "fd00::/8")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings({"TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, workdir=tmp_path)
