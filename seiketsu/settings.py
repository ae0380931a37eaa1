"""Settings: parsed once from the environment into one typed, immutable object.

A bad value stops start-up with a :class:`ConfigError` that names the variable. ``SECRET_KEY`` is never
hard-coded: when it is absent, one is generated on first start and kept in a local file readable only by
its owner, so restarts keep sessions and encrypted secrets valid.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_FILE_NAME = ".seiketsu_secret_key"
MIN_SECRET_LENGTH = 32


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"invalid configuration: {variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    secret_key: str = field(repr=False)
    public_base_url: str
    redis_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_api_base_url: str = "https://api.twilio.com"
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = "https://api.openai.com/v1"
    elevenlabs_api_key: str | None = field(default=None, repr=False)
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    azure_speech_key: str | None = field(default=None, repr=False)
    azure_speech_region: str | None = None
    log_level: str = "INFO"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    embedded_jobs: bool = True
    job_backoff_base_seconds: float = 2.0
    allow_private_webhook_targets: bool = False
    warm_up_voice: bool = True
    freeze_gc_after_start: bool = True
    """Once the web app or a worker has started, keep the objects that exist then out of the collector's full passes."""
    blocking_threads: int = 2
    """At most this many blocking calls (database sessions) run at once in the web app, each on a worker thread."""
    malloc_trim_interval_seconds: float = 10.0
    """How often the web app and workers hand freed heap memory back to the OS (``malloc_trim``); 0 turns it off."""
    local_stt_model: Path | None = None
    """The local recognizer's Whisper model directory (``LOCAL_STT_MODEL``); None: the one the project installs."""
    local_stt_workers: int = 2
    """How many local speech decodes run at once (``LOCAL_STT_WORKERS``); the others wait their turn."""
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    """Keys ``SECRET_KEY`` replaced (``SECRET_KEY_PREVIOUS``, comma-separated): still accepted for decryption."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = _optional(env, name) or default
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(name, f"expected a URL with scheme {' or '.join(schemes)}, got {value!r}")
    return value.rstrip("/")


def _database_url(env: Mapping[str, str], workdir: Path) -> str:
    value = _optional(env, "DATABASE_URL")
    if value is None:
        return f"sqlite:///{(workdir / 'seiketsu.db').resolve()}"
    if value.startswith(("postgres://", "postgresql://")):
        # Heroku-style URLs name no driver; psycopg 3 is the one we ship.
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    if not value.startswith(("postgresql+psycopg://", "sqlite://")):
        raise ConfigError("DATABASE_URL", "expected a postgresql:// or sqlite:// URL")
    return value


def _secret_key(env: Mapping[str, str], workdir: Path) -> str:
    value = _optional(env, "SECRET_KEY")
    if value is not None:
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigError("SECRET_KEY", f"must be at least {MIN_SECRET_LENGTH} characters")
        return value
    path = workdir / SECRET_FILE_NAME
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError("SECRET_KEY", f"{path} must be readable by its owner only (chmod 600)")
        stored = path.read_text().strip()
        if len(stored) < MIN_SECRET_LENGTH:
            raise ConfigError("SECRET_KEY", f"{path} holds a key shorter than {MIN_SECRET_LENGTH} characters")
        return stored
    generated = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(generated + "\n")
    return generated


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = _optional(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(name, f"expected an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _optional(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(name, f"expected a number, got {raw!r}") from exc
    if value < 0:
        raise ConfigError(name, "must not be negative")
    return value


LOCAL_STT_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


def _model_dir(env: Mapping[str, str], name: str) -> Path | None:
    """A CTranslate2 Whisper model directory, checked for its files; None when not set."""
    raw = _optional(env, name)
    if raw is None:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise ConfigError(name, f"{path} is not a directory holding a Whisper model (CTranslate2 format)")
    missing = [file for file in LOCAL_STT_MODEL_FILES if not (path / file).is_file()]
    if missing:
        raise ConfigError(name, f"{path} is not a complete Whisper model: missing {', '.join(missing)}")
    return path


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _optional(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")


def load_settings(env: Mapping[str, str] | None = None, *, workdir: Path | None = None) -> Settings:
    """Read every setting from ``env`` (the process environment by default), failing on the first bad one."""
    env = os.environ if env is None else env
    workdir = Path.cwd() if workdir is None else workdir
    log_level = (_optional(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}")
    redis_url = _optional(env, "REDIS_URL")
    if redis_url is not None:
        redis_url = _url(env, "REDIS_URL", redis_url, ("redis", "rediss", "unix"))
    azure_key = _optional(env, "AZURE_SPEECH_KEY")
    azure_region = _optional(env, "AZURE_SPEECH_REGION")
    if bool(azure_key) != bool(azure_region):
        missing = "AZURE_SPEECH_REGION" if azure_key else "AZURE_SPEECH_KEY"
        raise ConfigError(missing, "AZURE_SPEECH_KEY and AZURE_SPEECH_REGION must be set together")
    return Settings(
        database_url=_database_url(env, workdir),
        secret_key=_secret_key(env, workdir),
        public_base_url=_url(env, "PUBLIC_BASE_URL", "http://127.0.0.1:8000", ("http", "https")),
        redis_url=redis_url,
        twilio_account_sid=_optional(env, "TWILIO_ACCOUNT_SID"),
        twilio_auth_token=_optional(env, "TWILIO_AUTH_TOKEN"),
        twilio_api_base_url=_url(env, "TWILIO_API_BASE_URL", "https://api.twilio.com", ("http", "https")),
        openai_api_key=_optional(env, "OPENAI_API_KEY"),
        openai_base_url=_url(env, "OPENAI_BASE_URL", "https://api.openai.com/v1", ("http", "https")),
        elevenlabs_api_key=_optional(env, "ELEVENLABS_API_KEY"),
        elevenlabs_base_url=_url(env, "ELEVENLABS_BASE_URL", "https://api.elevenlabs.io", ("http", "https")),
        azure_speech_key=azure_key,
        azure_speech_region=azure_region,
        log_level=log_level,
        access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 900),
        refresh_token_ttl_seconds=_int(env, "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600),
        embedded_jobs=redis_url is None,
        job_backoff_base_seconds=_float(env, "JOB_BACKOFF_BASE_SECONDS", 2.0),
        allow_private_webhook_targets=_bool(env, "ALLOW_PRIVATE_WEBHOOK_TARGETS", False),
        warm_up_voice=_bool(env, "WARM_UP_VOICE", True),
        freeze_gc_after_start=_bool(env, "FREEZE_GC_AFTER_START", True),
        blocking_threads=_int(env, "BLOCKING_THREADS", 2),
        malloc_trim_interval_seconds=_float(env, "MALLOC_TRIM_INTERVAL_SECONDS", 10.0),
        local_stt_model=_model_dir(env, "LOCAL_STT_MODEL"),
        local_stt_workers=_int(env, "LOCAL_STT_WORKERS", 2),
        previous_secret_keys=tuple(
            k.strip() for k in (_optional(env, "SECRET_KEY_PREVIOUS") or "").split(",") if k.strip()
        ),
    )
