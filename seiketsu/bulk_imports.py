"""Bulk imports of the web process (campaign CSVs, Do-Not-Call registry files): admitted per organization, and run
away from the threads that serve requests.

An import parses and stores up to tens of thousands of rows: seconds of work holding the GIL for most of it. On the
worker threads that serve requests (``BLOCKING_THREADS``, two), a few at once kept Twilio's webhooks waiting for
seconds; on a thread of its own, it still takes the GIL from them every few milliseconds (Python hands it over
every 5 ms, and a webhook needs it back after each of its database round trips). So:

- an organization has at most ``IMPORTS_PER_ORGANIZATION`` imports running at once; one more is refused with 429
  and ``Retry-After`` before its body is read;
- the CPU-bound part of an import (:meth:`BulkImports.run`) runs in ``IMPORT_PROCESSES`` separate processes (one),
  each with its own container built from the same settings, where it takes no GIL from the web process; with 0,
  or an in-memory SQLite database (which another process cannot open), on one thread of the web process;
- files are written to and read from disk on a small lane of threads (:attr:`BulkImports.files`), I/O that
  releases the GIL while it waits.

Admission counts per web process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, TypeVar, TypeVarTuple

from seiketsu.blocking_threads import BlockingLane
from seiketsu.errors import RateLimited
from seiketsu.settings import Settings

if TYPE_CHECKING:
    from seiketsu.container import Container

T = TypeVar("T")
Args = TypeVarTuple("Args")

RETRY_AFTER_SECONDS = 10.0
"""What a refused upload is told to wait: about the time a large import takes."""
FILE_THREADS = 2
IMPORT_NICENESS = 10
"""An import process yields the CPU to the web process (webhooks, live calls' audio) when both want it."""

_process_container: Container | None = None
"""In an import process only: its container, built once when the process starts (``_start_process``)."""


def _start_process(settings: Settings) -> None:
    global _process_container
    from seiketsu.container import build_container

    os.nice(IMPORT_NICENESS)
    _process_container = build_container(settings)


def _in_process(func: Callable[[Container, *Args], T], *args: *Args) -> T:
    assert _process_container is not None, "not in an import process"
    return func(_process_container, *args)


class BulkImports:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._per_organization = settings.imports_per_organization
        self._running: Counter[uuid.UUID] = Counter()
        self._processes: ProcessPoolExecutor | None = None
        self._thread = BlockingLane(1)
        self.files = BlockingLane(FILE_THREADS)
        """Where uploaded files are written, read and stored, off the event loop and off the request threads."""

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

    async def run(self, container: Container, func: Callable[[Container, *Args], T], *args: *Args) -> T:
        """``func(container, *args)`` in an import process (with that process's container; ``func`` and the
        arguments cross by pickling), or on the import thread of this process when ``IMPORT_PROCESSES`` is 0."""
        if self._settings.import_processes == 0 or self._settings.is_memory_database:
            return await self._thread.run(func, container, *args)
        if self._processes is None:
            self._processes = ProcessPoolExecutor(
                self._settings.import_processes,
                mp_context=multiprocessing.get_context("spawn"),  # forking a process with threads is unsafe
                initializer=_start_process,
                initargs=(self._settings,),
            )
        call: Callable[[], T] = partial(_in_process, func, *args)
        return await asyncio.wrap_future(self._processes.submit(call))

    def close(self) -> None:
        if self._processes is not None:
            self._processes.shutdown(wait=True, cancel_futures=True)
            self._processes = None
