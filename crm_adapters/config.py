"""What every adapter is built from, and the checks that make a bad configuration fail at build time."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from crm_adapters.errors import CRMConfigError
from crm_adapters.oauth import CredentialsCallback

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S", bound="DataclassInstance")


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    """One integration's configuration, as the caller holds it (credentials already decrypted)."""

    credentials: Mapping[str, str]
    http: httpx.AsyncClient
    settings: Mapping[str, str] = field(default_factory=dict)
    field_mapping: Mapping[str, str | None] | None = None
    outcome_mapping: Mapping[str, str | None] | None = None
    on_credentials_refreshed: CredentialsCallback | None = None
    clock: Callable[[], float] = time.time
    base_url: str | None = None
    """Where every request goes instead of the vendor's hosts, token endpoints included (a local double); set
    from server configuration only, while the integration's own URLs are still checked against the vendor's."""


def parse_settings(settings_type: type[S], values: Mapping[str, str], *, vendor: str) -> S:
    """A vendor's settings dataclass from string values; an unknown name fails loudly."""
    known = {f.name for f in dataclasses.fields(settings_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise CRMConfigError(f"unknown settings {', '.join(unknown)}; known: {', '.join(sorted(known))}", vendor=vendor)
    given: dict[str, Any] = {name: value for name, value in values.items() if value is not None}
    return settings_type(**given)


def require_credentials(credentials: Mapping[str, str], keys: tuple[str, ...], *, vendor: str) -> None:
    """Fail when any of ``keys`` is missing or empty; names the keys, never the values."""
    missing = [key for key in keys if not credentials.get(key)]
    if missing:
        raise CRMConfigError(f"missing credentials: {', '.join(missing)}", vendor=vendor)
