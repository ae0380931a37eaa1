"""JSON logs with a request id; phone numbers masked and secrets redacted before anything is written."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from seiketsu.phones import mask_phones_in_text

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:password|secret|token|api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
    re.compile(r"\b(sk_[0-9a-f]{12}_)[A-Za-z0-9_-]+"),
    re.compile(r"\b(rt_)[A-Za-z0-9_-]{20,}"),
)


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return mask_phones_in_text(text)


class RedactingFilter(logging.Filter):
    """Renders each record's message once, redacted, so no handler can print the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        record.request_id = request_id_var.get()
        return True


class _Formatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["level"] = record.levelname
        log_record["logger"] = record.name
        request_id = getattr(record, "request_id", None)
        if request_id:
            log_record["request_id"] = request_id


def configure_logging(level: str) -> None:
    """Route every logger through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s %(message)s", timestamp=False))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_seiketsu", False):
            root.removeHandler(existing)
    handler._seiketsu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # HTTP clients log every request URL at INFO, and RQ's worker four lines per job; ours log what matters
    # themselves (a job's failure, retry or death is logged by the job runner).
    for noisy in ("httpx", "httpx2", "httpcore", "rq.worker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
