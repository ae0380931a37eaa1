"""A bounded pool of pocketsphinx decoder processes, leased one per utterance.

Loading the model takes about a second, so processes are started ahead (``warm_up``) and reused; the pool
grows on demand up to ``limit`` and then makes callers wait for a free decoder (their audio keeps queueing
meanwhile, nothing is lost). Waiting is plain futures on the caller's loop, so one pool can outlive the
event loop that filled it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.interfaces import ProviderError
from agent.providers.sphinx_process import DEFAULT_DECODER_OPTIONS, DecoderProcess, Request

logger = logging.getLogger(__name__)


class DecoderPool:
    """Decoder processes shared by every call of one server process."""

    def __init__(
        self,
        *,
        warm: int = 2,
        limit: int = 4,
        options: Mapping[str, Any] = DEFAULT_DECODER_OPTIONS,
        call_timeout: float = 10.0,
        spawn_timeout: float = 30.0,
    ) -> None:
        if not 0 <= warm <= limit or limit < 1:
            raise ValueError("need 0 <= warm <= limit and limit >= 1")
        self._warm = warm
        self._limit = limit
        self._options = dict(options)
        self._call_timeout = call_timeout
        self._spawn_timeout = spawn_timeout
        # One thread per process at most: a thread only ever waits on its process's pipe.
        self._executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="pocketsphinx")
        self._idle: list[DecoderProcess] = []
        self._waiters: deque[asyncio.Future[DecoderProcess | None]] = deque()
        self._count = 0  # started or starting, leased or idle
        self._closed = False

    async def warm_up(self) -> None:
        """Start processes until ``warm`` of them exist; idempotent."""
        if self._closed:
            raise ProviderError("the pocketsphinx pool is closed")
        missing = max(0, self._warm - self._count)
        self._count += missing
        results = await asyncio.gather(*(self._spawn() for _ in range(missing)), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        for result in results:
            if isinstance(result, DecoderProcess):
                self.release(result)
        self._count -= len(failures)
        if failures:
            raise ProviderError("could not start pocketsphinx decoders") from failures[0]

    async def acquire(self) -> DecoderProcess:
        """Lease a decoder; release it with :meth:`release` when the utterance is over."""
        while True:
            if self._closed:
                raise ProviderError("the pocketsphinx pool is closed")
            if self._idle:
                return self._idle.pop()
            if self._count < self._limit:
                self._count += 1
                try:
                    return await self._spawn()
                except BaseException:
                    self._count -= 1
                    self._wake_one(None)
                    raise
            waiter: asyncio.Future[DecoderProcess | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                decoder = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    handed = waiter.result()
                    # Pass on what this waiter was given: a decoder, or the news of a free slot.
                    if handed is not None:
                        self.release(handed)
                    else:
                        self._wake_one(None)
                raise
            if decoder is not None:
                return decoder
            # None: a slot freed up (a process died); loop to start a new one.

    def release(self, decoder: DecoderProcess) -> None:
        """Give a leased decoder back; a broken one is discarded and its slot freed."""
        if decoder.broken or self._closed:
            self._count -= 1
            decoder.kill()
            self._wake_one(None)
            return
        if not self._wake_one(decoder):
            self._idle.append(decoder)

    async def call(self, decoder: DecoderProcess, request: Request) -> str | None:
        """Run one request on a leased decoder without blocking the event loop."""
        loop = asyncio.get_running_loop()
        try:
            pending = loop.run_in_executor(self._executor, lambda: decoder.call(request, timeout=self._call_timeout))
        except RuntimeError as exc:  # the executor is shut down: the pool was closed mid-utterance
            raise ProviderError("the pocketsphinx pool is closed") from exc
        return await pending

    async def aclose(self) -> None:
        """Stop idle processes now and leased ones when they are released."""
        self._closed = True
        idle, self._idle = self._idle, []
        self._count -= len(idle)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ProviderError("the pocketsphinx pool is closed"))
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, decoder.close) for decoder in idle))
        self._executor.shutdown(wait=False)

    async def _spawn(self) -> DecoderProcess:
        loop = asyncio.get_running_loop()
        decoder = await loop.run_in_executor(
            self._executor,
            lambda: DecoderProcess.spawn(options=self._options, ready_timeout=self._spawn_timeout),
        )
        logger.info("pocketsphinx decoder process started (%d in pool)", self._count)
        return decoder

    def _wake_one(self, decoder: DecoderProcess | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(decoder)
                return True
        return False
