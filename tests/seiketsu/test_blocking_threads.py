"""Blocking work on worker threads: the shared limit, and lanes that keep bursts of deferrable work to themselves."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import pytest
from starlette.concurrency import run_in_threadpool

from seiketsu.blocking_threads import BlockingLane, limit_blocking_threads
from tests.seiketsu.threads import Overlap, all_at_once


async def test_a_lane_runs_its_calls_one_at_a_time_off_the_loop() -> None:
    lane, overlap = BlockingLane(), Overlap()
    loop_thread = threading.current_thread().name
    names: list[str] = []

    async def one() -> None:
        names.append(await lane.run(overlap.work))

    await all_at_once(8, one)
    assert overlap.peak == 1 and len(names) == 8
    assert loop_thread not in names


async def test_a_wider_lane_runs_that_many_at_once() -> None:
    lane, overlap = BlockingLane(width=3), Overlap()

    async def one() -> None:
        await lane.run(overlap.work)

    await all_at_once(9, one)
    assert overlap.peak == 3


async def test_a_busy_lane_leaves_the_shared_threads_free() -> None:
    lane, slow = BlockingLane(), Overlap()
    default = anyio.to_thread.current_default_thread_limiter()
    before = default.total_tokens
    limit_blocking_threads(1)
    try:
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(lane.run, slow.work, 0.05)
            await anyio.sleep(0.01)
            # the one shared thread runs while the lane's burst is still being worked through
            lane_busy_meanwhile = await run_in_threadpool(lambda: slow.running)
        assert lane_busy_meanwhile == 1 and slow.peak == 1
    finally:
        default.total_tokens = before


async def test_a_lane_hands_back_results_and_errors() -> None:
    lane = BlockingLane()

    def fail() -> None:
        raise LookupError("no such call")

    assert await lane.run(pow, 2, 10) == 1024
    with pytest.raises(LookupError, match="no such call"):
        await lane.run(fail)
    assert await lane.run(str.upper, "still serving") == "STILL SERVING"


def test_widths_and_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        BlockingLane(width=0)
    with pytest.raises(ValueError, match="count"):
        limit_blocking_threads(0)
