"""What can go wrong talking to a CRM, sorted by what the caller should do about it.

::

    CRMError
     ├── RetryableCRMError        429, 5xx, timeouts, connection errors: try again, after retry_after if given
     │    └── CRMQuotaExhaustedError   a daily budget is spent: park the work until it resets
     └── PermanentCRMError        validation, not found, conflicts: retrying the same request cannot help
          ├── CRMAuthError             credentials rejected and no refresh could fix them
          └── CRMConfigError           the integration is set up wrongly (missing credential, unknown field)

Messages carry the vendor's own message and code; they never carry credentials.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime


class CRMError(Exception):
    """Base of every error an adapter raises."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        status: int | None = None,
        vendor_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.status = status
        self.vendor_code = vendor_code

    def __str__(self) -> str:
        parts = [f"{self.vendor}: {self.message}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.vendor_code:
            parts.append(self.vendor_code)
        return " | ".join(parts)


class RetryableCRMError(CRMError):
    """A transient failure; ``retry_after`` is the wait in seconds the vendor asked for, if it said."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        status: int | None = None,
        vendor_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, vendor=vendor, status=status, vendor_code=vendor_code)
        self.retry_after = retry_after


class CRMQuotaExhaustedError(RetryableCRMError):
    """A daily request budget is spent; quick retries only burn more of tomorrow's."""


class PermanentCRMError(CRMError):
    """The CRM refused the request for a reason a retry cannot change."""


class CRMAuthError(PermanentCRMError):
    """The CRM rejected the credentials (or the refresh token) for good; the integration needs reconnecting."""


class CRMConfigError(PermanentCRMError):
    """The integration's credentials, settings or field mapping are incomplete or invalid; ``field`` names the
    entry at fault when one is (``settings.base_url``, ``credentials.instance_url``)."""

    def __init__(self, message: str, *, vendor: str, field: str | None = None) -> None:
        super().__init__(message, vendor=vendor)
        self.field = field


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date (RFC 9110 10.2.3).

    ``now`` is the current POSIX time; an unparseable value gives ``None``, a date in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def parse_seconds(value: str | None) -> float | None:
    """A non-negative number of seconds from a header value, or ``None``."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
