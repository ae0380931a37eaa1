"""Job handlers by name. Each package registers its own handlers in the app factory."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seiketsu.container import Container


class RetryLater(Exception):
    """Raised by a handler that wants another attempt after ``delay`` seconds (for example a Retry-After)."""

    def __init__(self, message: str, *, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentFailure(Exception):
    """Raised by a handler whose job can never succeed: it goes to the dead-letter state at once."""


@dataclass(frozen=True, slots=True)
class JobContext:
    container: Container
    job_id: uuid.UUID
    organization_id: uuid.UUID
    attempt: int
    payload: dict[str, Any]


Handler = Callable[[JobContext], None] | Callable[[JobContext], Awaitable[None]]


class JobRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, handler: Handler) -> None:
        if name in self._handlers:
            raise ValueError(f"job handler {name!r} registered twice")
        self._handlers[name] = handler

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers
