"""A circuit breaker: after a dependency failed a few times in a row, callers stop waiting for it for a while.

::

    closed ──(``threshold`` failures in a row)──▶ open ──(``reset_after`` seconds)──▶ half-open
      ▲                                            ▲                                   │ one trial call
      └──────────────────(the trial succeeds)──────┼───────────────────────────────────┤
                                                   └──────────(the trial fails)────────┘

While open, :meth:`CircuitBreaker.call` raises :class:`CircuitOpen` at once, so a stalled dependency costs a
caller nothing and the caller takes its fallback. Only exceptions of the ``failures`` types count: any other
error means the dependency answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"


class CircuitOpen(Exception):
    """The dependency failed recently; it is not tried until its breaker lets a trial call through."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is unavailable (circuit open)")
        self.name = name


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failures: tuple[type[BaseException], ...],
        threshold: int = 3,
        reset_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.name = name
        self.failures = failures
        self._threshold = threshold
        self._reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def unavailable(self) -> tuple[type[BaseException], ...]:
        """What a caller with a fallback catches: :class:`CircuitOpen` and the failures themselves."""
        return (CircuitOpen, *self.failures)

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self._reset_after:
                return HALF_OPEN
            return self._state

    def call(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` unless the circuit is open (then raise :class:`CircuitOpen`)."""
        trial = self._admit()
        try:
            result = operation()
        except self.failures:
            self._failed(trial)
            raise
        except BaseException:
            self._succeeded(trial)  # the dependency answered, with an error of the caller's own
            raise
        self._succeeded(trial)
        return result

    def _admit(self) -> bool:
        """Whether the call goes ahead as the half-open trial; raises when it may not go ahead at all."""
        with self._lock:
            if self._state == CLOSED:
                return False
            if self._trial_running or self._clock() - self._opened_at < self._reset_after:
                raise CircuitOpen(self.name)
            self._state = HALF_OPEN
            self._trial_running = True
            return True

    def _failed(self, trial: bool) -> None:
        with self._lock:
            if trial:
                self._trial_running = False
            self._consecutive += 1
            if trial or (self._state == CLOSED and self._consecutive >= self._threshold):
                if self._state == CLOSED:
                    logger.warning("%s failed %d times in a row: circuit open", self.name, self._consecutive)
                self._state = OPEN
                self._opened_at = self._clock()

    def _succeeded(self, trial: bool) -> None:
        with self._lock:
            if trial:
                self._trial_running = False
            self._consecutive = 0
            if trial:
                logger.warning("%s answers again: circuit closed", self.name)
                self._state = CLOSED
