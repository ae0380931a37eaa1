"""Handing the heap memory that calls and jobs freed back to the operating system.

glibc's allocator keeps freed memory in its arenas for reuse and returns it only from the top of a heap, so a
process's resident size climbs to the high-water mark of its busiest moment (a wave of concurrent calls: audio
and frame buffers, provider responses) and fragmentation keeps it there. ``malloc_trim(0)`` releases every free
page of every arena. A daemon thread calls it every ``interval`` seconds: in a 100-call soak a pass took 0.7 ms at
the median and 11 ms at most, and the event loop keeps running meanwhile (it waits only when it allocates in the
arena being trimmed). Where the C library has no ``malloc_trim`` (musl, macOS) passes do not trim.

Code that has just freed memory in bulk (a call's buffers, once the call is stored) calls ``request()``: the next
pass then comes as soon as such requests have been quiet for ``settle`` seconds (a burst of call ends gets one
pass after its last call), and no later than the interval would have brought it.

A requested pass first runs the cycle collector's full collection (``collect``). What a finished call leaves in
reference cycles is otherwise freed only by a full collection, which a process that froze its start-up objects
makes rare (``seiketsu.gc_tuning``: about one every quarter of an hour with 50-call waves back to back): above all
the server's own state of each media-stream WebSocket (uvicorn's websockets protocol keeps itself alive through its
frame parser), about 50 KB a call when the client negotiated per-message deflate (zlib's windows). The collection
walks only the objects that are not frozen (about 24,000 in a web process between waves of calls) and holds the
interpreter meanwhile: 5-16 ms of a stopped event loop on a loaded 2-core machine, once per burst of call ends and
at most once an interval. Periodic passes nobody requested only trim: a worker's batch keeps hundreds of thousands
of objects that a full collection would walk for nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

Trim = Callable[[], object]
Collect = Callable[[], object]


@functools.cache
def glibc_malloc_trim() -> Trim | None:
    """``malloc_trim(0)`` of the C library this process runs on, or None where there is none (looked up once a
    process: ``find_library`` runs ``ldconfig``, about 12 ms, and every container builds a trimmer)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return lambda: function(0)


class HeapTrimmer:
    """Calls ``trim`` every ``interval`` seconds on a daemon thread, between ``start()`` and ``stop()``; a pass that
    was requested calls ``collect`` first."""

    def __init__(
        self,
        interval: float,
        *,
        trim: Trim | None = None,
        collect: Collect | None = None,
        observe: Callable[[float], None] | None = None,
        settle: float = 0.5,
    ) -> None:
        self._interval = interval
        self._settle = settle
        self._trim = trim
        self._collect = collect
        self._observe = observe
        self._stopped = threading.Event()
        self._requested = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_this_process(cls, interval: float, *, observe: Callable[[float], None] | None = None) -> HeapTrimmer:
        return cls(interval, trim=glibc_malloc_trim(), collect=gc.collect, observe=observe)

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if (self._trim is None and self._collect is None) or self._interval <= 0 or self.active:
            return
        self._stopped.clear()
        self._requested.clear()
        self._thread = threading.Thread(target=self._run, name="heap-trim", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Memory was just freed: trim soon (see the module's docstring). Cheap, and safe from any thread."""
        self._requested.set()

    def stop(self) -> None:
        self._stopped.set()
        self._requested.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            requested = self._wait_for_next_pass()
            if self._stopped.is_set():
                return
            started = time.perf_counter()
            try:
                if requested and self._collect is not None:
                    self._collect()
                if self._trim is not None:
                    self._trim()
            except Exception:  # the thread's boundary: a failed pass costs memory, never the process
                logger.exception("a heap pass failed; the heap trimmer stops")
                return
            if self._observe is not None:
                self._observe(time.perf_counter() - started)

    def _wait_for_next_pass(self) -> bool:
        """Until the interval has passed, or requests have been quiet for ``settle`` s; whether any came."""
        due = time.monotonic() + self._interval
        requested = self._requested.wait(self._interval)
        any_request = requested
        while requested and not self._stopped.is_set():
            self._requested.clear()
            remaining = due - time.monotonic()
            if remaining <= 0:
                break
            requested = self._requested.wait(min(self._settle, remaining))
        return any_request
