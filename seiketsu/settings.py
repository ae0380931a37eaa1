"""Settings: parsed once from the environment into one typed, immutable object.

A bad value stops start-up with a :class:`ConfigError` that names the variable. ``SECRET_KEY`` is never
hard-coded: when it is absent, one is generated on first start and kept in a local file readable only by
its owner, so restarts keep sessions and encrypted secrets valid.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_FILE_NAME = ".seiketsu_secret_key"
MIN_SECRET_LENGTH = 32
MIN_SILENCE_MS = 600
"""Below this the local fallbacks (half a second kept for them to make audio) would have no time to run."""


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
    allow_private_crm_targets: bool = False
    """Development only: CRM requests may reach private and loopback addresses over plain http (a local double)."""
    crm_base_urls: Mapping[str, str] = field(default_factory=dict)
    """CRM type -> the URL every request of that vendor goes to instead of its own hosts (``CRM_BASE_URLS``)."""
    warm_up_voice: bool = True
    freeze_gc_after_start: bool = True
    """Once the web app or a worker has started, keep the objects that exist then out of the collector's full passes."""
    blocking_threads: int = 2
    """At most this many blocking calls (database sessions) run at once in the web app, each on a worker thread."""
    malloc_trim_interval_seconds: float = 10.0
    """How often the web app and workers hand freed heap memory back to the OS (``malloc_trim``); 0 turns it off."""
    redis_timeout_seconds: float = 0.1
    """The longest any Redis command (or connecting) may take before it counts as a failure."""
    redis_retry_after_seconds: float = 5.0
    """After three Redis failures in a row, how long callers take their fallback before Redis is tried again."""
    job_lease_seconds: float = 30.0
    """How long a running job is held without a heartbeat; a dead worker's job is run again after it."""
    job_heartbeat_seconds: float = 10.0
    """How often a running job's lease is renewed."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses and networks of the proxies in front of the app (``TRUSTED_PROXIES``, comma-separated): only a
    request from one of them has its ``X-Forwarded-For`` believed. None by default."""
    agent_max_silence_ms: int = 1500
    """Longest silence a caller may hear after they stop talking, whatever a speech or dialog provider does."""
    agent_fallback_by_ms: int = 2500
    """When a late provider's answer is replaced by the local fallback's, counted from the caller stopping."""
    csv_import_max_bytes: int = 10 << 20
    """The largest campaign CSV a request may upload (bytes); a larger one is refused with 413."""
    csv_import_max_rows: int = 50_000
    """The most rows a campaign CSV may hold; more are refused with 422."""
    registry_upload_max_bytes: int = 512 << 20
    """The largest Do-Not-Call registry file a request may upload (bytes); larger files go through the CLI."""
    imports_per_organization: int = 1
    """Uploads (campaign CSVs, registry files) an organization may have running at once in one web process; one
    more is refused with 429 and Retry-After."""
    import_processes: int = 1
    """Processes that parse and store uploaded campaign CSVs for the web process, where they take no GIL from it;
    0 runs them on one thread of the web process instead (required with an in-memory SQLite database)."""
    local_stt_model: Path | None = None
    """The local recognizer's Whisper model directory (``LOCAL_STT_MODEL``); None: the one the project installs."""
    local_stt_workers: int = 2
    """How many local speech decodes run at once (``LOCAL_STT_WORKERS``); the others wait their turn."""
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    """Keys ``SECRET_KEY`` replaced (``SECRET_KEY_PREVIOUS``, comma-separated): still accepted for decryption."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_memory_database(self) -> bool:
        """An in-memory SQLite database: one process's alone."""
        return self.database_url in ("sqlite://", "sqlite:///:memory:")


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = _optional(env, name) or default
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(name, f"expected a URL with scheme {' or '.join(schemes)}, got {value!r}")
    return value.rstrip("/")


def _url_map(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``key=URL`` pairs separated by commas."""
    result: dict[str, str] = {}
    for entry in (_optional(env, name) or "").split(","):
        if not entry.strip():
            continue
        key, sep, url = (part.strip() for part in entry.partition("="))
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise ConfigError(name, f"expected name=URL pairs separated by commas, got {entry.strip()!r}")
        if key in result:
            raise ConfigError(name, f"{key} is given twice")
        result[key] = _url({name: url}, name, "", ("http", "https"))
    return result


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


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value <= 0:
        raise ConfigError(name, "must be greater than 0")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    found: list[str] = []
    for raw in (_optional(env, name) or "").split(","):
        if not raw.strip():
            continue
        try:
            found.append(str(ipaddress.ip_network(raw.strip(), strict=False)))
        except ValueError as exc:
            raise ConfigError(name, f"expected IP addresses or networks, got {raw.strip()!r}") from exc
    return tuple(found)
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
    max_silence_ms = _int(env, "AGENT_MAX_SILENCE_MS", 1500, minimum=MIN_SILENCE_MS)
    fallback_by_ms = _int(env, "AGENT_FALLBACK_BY_MS", 2500, minimum=MIN_SILENCE_MS)
    if fallback_by_ms < max_silence_ms:
        raise ConfigError("AGENT_FALLBACK_BY_MS", f"must be at least AGENT_MAX_SILENCE_MS ({max_silence_ms})")
    job_lease = _positive(env, "JOB_LEASE_SECONDS", 30.0)
    job_heartbeat = _positive(env, "JOB_HEARTBEAT_SECONDS", 10.0)
    if job_heartbeat >= job_lease:
        raise ConfigError("JOB_HEARTBEAT_SECONDS", f"must be shorter than JOB_LEASE_SECONDS ({job_lease:g})")
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
        allow_private_crm_targets=_bool(env, "ALLOW_PRIVATE_CRM_TARGETS", False),
        crm_base_urls=_url_map(env, "CRM_BASE_URLS"),
        warm_up_voice=_bool(env, "WARM_UP_VOICE", True),
        freeze_gc_after_start=_bool(env, "FREEZE_GC_AFTER_START", True),
        blocking_threads=_int(env, "BLOCKING_THREADS", 2),
        malloc_trim_interval_seconds=_float(env, "MALLOC_TRIM_INTERVAL_SECONDS", 10.0),
        redis_timeout_seconds=_positive(env, "REDIS_TIMEOUT_SECONDS", 0.1),
        redis_retry_after_seconds=_positive(env, "REDIS_RETRY_AFTER_SECONDS", 5.0),
        job_lease_seconds=job_lease,
        job_heartbeat_seconds=job_heartbeat,
        trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
        agent_max_silence_ms=max_silence_ms,
        agent_fallback_by_ms=fallback_by_ms,
        csv_import_max_bytes=_int(env, "CSV_IMPORT_MAX_BYTES", 10 << 20),
        csv_import_max_rows=_int(env, "CSV_IMPORT_MAX_ROWS", 50_000),
        registry_upload_max_bytes=_int(env, "REGISTRY_UPLOAD_MAX_BYTES", 512 << 20),
        imports_per_organization=_int(env, "IMPORTS_PER_ORGANIZATION", 1),
        import_processes=_int(env, "IMPORT_PROCESSES", 1, minimum=0),
        local_stt_model=_model_dir(env, "LOCAL_STT_MODEL"),
        local_stt_workers=_int(env, "LOCAL_STT_WORKERS", 2),
        previous_secret_keys=tuple(
            k.strip() for k in (_optional(env, "SECRET_KEY_PREVIOUS") or "").split(",") if k.strip()
        ),
    )
