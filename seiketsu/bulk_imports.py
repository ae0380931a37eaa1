"""Bulk imports of the web process (campaign CSVs, Do-Not-Call registry files): admitted per organization, and run
on threads of their own.

An import parses and stores up to tens of thousands of rows: seconds of work that holds the GIL for most of it.
On the worker threads that serve requests (``BLOCKING_THREADS``, two), a few of them at once would keep Twilio's
webhooks waiting for seconds. Here an organization has at most ``IMPORTS_PER_ORGANIZATION`` running at once (one
more is refused with 429 and ``Retry-After`` before its body is read), the imports of every organization take turns
on ``IMPORT_THREADS`` threads (one), and their files are written on a lane of their own, so a burst of uploads holds
at most those threads' share of the GIL, whoever sends it.

The count is per process: each web process admits its own.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from seiketsu.blocking_threads import BlockingLane
from seiketsu.errors import RateLimited
from seiketsu.settings import Settings

RETRY_AFTER_SECONDS = 10.0
"""What a refused upload is told to wait: about the time a large import takes."""
FILE_THREADS = 2


class BulkImports:
    def __init__(self, *, per_organization: int, threads: int) -> None:
        if per_organization < 1:
            raise ValueError("per_organization must be at least 1")
        self._per_organization = per_organization
        self._running: Counter[uuid.UUID] = Counter()
        self.work = BlockingLane(threads)
        """Where an admitted import parses and stores its rows."""
        self.files = BlockingLane(FILE_THREADS)
        """Where uploaded files are written to and read from disk, off the event loop and off ``work``."""

    @classmethod
    def from_settings(cls, settings: Settings) -> BulkImports:
        return cls(per_organization=settings.imports_per_organization, threads=settings.import_threads)

    @contextmanager
    def admit(self, organization_id: uuid.UUID) -> Iterator[None]:
        """Count an import of the organization while the block runs; RateLimited (429) when it has its limit
        running already. Called on the event loop only (the count has no lock)."""
        if self._running[organization_id] >= self._per_organization:
            raise RateLimited(
                RETRY_AFTER_SECONDS,
                f"the organization already has {self._per_organization} import(s) running, its limit"
                " (IMPORTS_PER_ORGANIZATION); try again when it has finished",
            )
        self._running[organization_id] += 1
        try:
            yield
        finally:
            self._running[organization_id] -= 1
            if not self._running[organization_id]:
                del self._running[organization_id]

    def running(self, organization_id: uuid.UUID) -> int:
        return self._running[organization_id]
