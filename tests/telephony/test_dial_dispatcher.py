"""The dial dispatcher: work runs off the submitting thread, failures stay inside, the loop's thread ends when
idle, and closing waits for the work handed over."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from telephony.campaigns.dispatch import DialDispatcher


def test_work_runs_on_the_dispatchers_own_thread_and_the_submitter_does_not_wait() -> None:
    dispatcher = DialDispatcher(idle_timeout=0.05)
    release = threading.Event()
    ran_on: list[str] = []

    async def work() -> None:
        await asyncio.to_thread(release.wait, 5)
        ran_on.append(threading.current_thread().name)

    dispatcher.submit(work)
    assert dispatcher.pending == 1 and not ran_on  # submit returned while the work still waits
    release.set()
    assert dispatcher.wait_idle(timeout=5)
    assert ran_on == ["campaign-dialer"] and dispatcher.pending == 0


def test_one_failing_work_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = DialDispatcher(idle_timeout=0.05)
    done: list[int] = []

    async def fails() -> None:
        raise RuntimeError("twilio exploded")

    async def succeeds() -> None:
        await asyncio.sleep(0.01)
        done.append(1)

    with caplog.at_level(logging.ERROR, logger="telephony.campaigns.dispatch"):
        dispatcher.submit(fails)
        dispatcher.submit(succeeds)
        assert dispatcher.wait_idle(timeout=5)
    assert done == [1]
    assert "twilio exploded" in caplog.text


def test_the_thread_ends_when_idle_and_starts_again_with_new_work() -> None:
    dispatcher = DialDispatcher(idle_timeout=0.05)
    done: list[int] = []

    async def work() -> None:
        done.append(1)

    dispatcher.submit(work)
    assert dispatcher.wait_idle(timeout=5)
    deadline = time.monotonic() + 5
    while any(t.name == "campaign-dialer" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "campaign-dialer" for t in threading.enumerate())
    dispatcher.submit(work)
    assert dispatcher.wait_idle(timeout=5) and done == [1, 1]


def test_close_waits_for_the_work_handed_over() -> None:
    dispatcher = DialDispatcher(idle_timeout=30)
    done: list[int] = []

    async def slow() -> None:
        await asyncio.sleep(0.2)
        done.append(1)

    dispatcher.submit(slow)
    started = time.monotonic()
    dispatcher.close(timeout=5)
    assert done == [1]
    assert time.monotonic() - started < 5  # the idle wait of 30 s is cut short
    assert not any(t.name == "campaign-dialer" for t in threading.enumerate())
