"""How many threads the web app lends to blocking work: sync endpoints and ``run_in_threadpool`` (database sessions).

Starlette and FastAPI run blocking work on anyio's worker threads, 40 of them by default. On CPython that work (the
ORM building statements and reading rows) holds the GIL, and every runnable worker thread takes a share of it from
the event loop that paces live calls' audio: with 100 concurrent calls, the calls that end together (each storing
its transcript in one transaction) delayed the other calls' replies by tens of milliseconds. A few threads keep the
database busy; blocking calls beyond them wait their turn without running, and the loop keeps its share.

Work that can wait, and comes in bursts, takes a :class:`BlockingLane` of its own: it then holds at most its lane's
threads whatever the burst, and never keeps a request waiting for one of the shared threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

T = TypeVar("T")
Args = TypeVarTuple("Args")


def limit_blocking_threads(count: int) -> None:
    """Run at most ``count`` blocking calls at once on the running event loop's worker threads."""
    if count < 1:
        raise ValueError("count must be at least 1")
    anyio.to_thread.current_default_thread_limiter().total_tokens = count


class BlockingLane:
    """Blocking calls run ``width`` at a time on worker threads, apart from the shared limit; the rest wait."""

    def __init__(self, width: int = 1) -> None:
        if width < 1:
            raise ValueError("width must be at least 1")
        self._limiter = anyio.CapacityLimiter(width)

    async def run(self, func: Callable[[*Args], T], *args: *Args) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)
