"""The heap trimmer: hands freed heap memory back to the OS on a schedule, and never takes the process down."""

from __future__ import annotations

import gc
import sys
import threading
import time
import weakref

import pytest
from fastapi.testclient import TestClient

from seiketsu.app import create_app
from seiketsu.heap_trim import HeapTrimmer, glibc_malloc_trim
from tests.conftest import make_settings


class CountingTrim:
    def __init__(self, *, fail_on: int | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on
        self.reached = threading.Event()

    def __call__(self) -> int:
        self.calls += 1
        if self.calls >= 3:
            self.reached.set()
        if self.fail_on is not None and self.calls == self.fail_on:
            self.reached.set()
            raise OSError("trim failed")
        return 1


def test_the_trimmer_trims_every_interval_and_reports_each_pass_until_stopped() -> None:
    trim = CountingTrim()
    durations: list[float] = []
    trimmer = HeapTrimmer(0.01, trim=trim, observe=durations.append)
    trimmer.start()
    assert trimmer.active
    assert trim.reached.wait(5)
    trimmer.stop()
    assert not trimmer.active
    calls = trim.calls
    assert calls >= 3 and len(durations) >= 3 and all(d >= 0 for d in durations)
    threading.Event().wait(0.05)
    assert trim.calls == calls  # nothing after stop()


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_an_interval_of_zero_turns_the_trimmer_off(interval: float) -> None:
    trim = CountingTrim()
    trimmer = HeapTrimmer(interval, trim=trim)
    trimmer.start()
    assert not trimmer.active
    trimmer.stop()
    assert trim.calls == 0


def test_without_a_trim_function_the_trimmer_does_nothing() -> None:
    trimmer = HeapTrimmer(0.01, trim=None)
    trimmer.start()
    assert not trimmer.active
    trimmer.stop()


def test_a_failing_trim_stops_the_trimmer_and_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    trim = CountingTrim(fail_on=1)
    trimmer = HeapTrimmer(0.01, trim=trim)
    trimmer.start()
    assert trim.reached.wait(5)
    for _ in range(100):
        if not trimmer.active:
            break
        threading.Event().wait(0.01)
    assert not trimmer.active and trim.calls == 1
    assert "a heap pass failed" in caplog.text
    trimmer.stop()


class TimedTrim:
    """Records when each pass ran."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.ran = threading.Event()

    def __call__(self) -> int:
        self.times.append(time.monotonic())
        self.ran.set()
        return 1


def test_a_request_brings_a_pass_once_requests_have_been_quiet_for_the_settling_time() -> None:
    settle = 0.5  # ten times the burst's spacing: a loaded machine's late wake-ups stay well inside it
    trim = TimedTrim()
    trimmer = HeapTrimmer(60, trim=trim, settle=settle)
    trimmer.start()
    try:
        started = time.monotonic()
        for index in range(5):  # a burst of call ends, 50 ms apart
            if index:
                time.sleep(0.05)
            last_request = time.monotonic()  # taken before the request: the pass must come settle after it
            trimmer.request()
        assert trim.ran.wait(5)
        time.sleep(settle + 0.1)
        assert len(trim.times) == 1  # one pass for the whole burst, after it
        assert trim.times[0] >= last_request + settle - 0.01  # (timed waits may wake a hair early)
        assert trim.times[0] - started < 5  # not the 60 s interval
    finally:
        trimmer.stop()


def test_requests_that_never_pause_still_get_a_pass_every_interval() -> None:
    trim = TimedTrim()
    trimmer = HeapTrimmer(0.3, trim=trim, settle=0.2)
    trimmer.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            trimmer.request()  # never quiet for the settling time
            time.sleep(0.02)
    finally:
        trimmer.stop()
    assert 2 <= len(trim.times) <= 5


def test_a_request_while_stopped_does_nothing_and_stop_does_not_wait_for_the_interval() -> None:
    trim = TimedTrim()
    trimmer = HeapTrimmer(60, trim=trim, settle=0.05)
    trimmer.request()
    trimmer.start()
    time.sleep(0.2)
    assert trim.times == []  # the request before start() is forgotten
    started = time.monotonic()
    trimmer.stop()
    assert time.monotonic() - started < 1 and not trimmer.active
    assert trim.times == []


class Cyclic:
    """An object kept alive only by a reference cycle (as a finished WebSocket's protocol is, by its parser)."""

    def __init__(self) -> None:
        self.me = self


def test_a_requested_pass_collects_reference_cycles_before_it_trims() -> None:
    order: list[str] = []
    trimmed = threading.Event()

    def collect() -> None:
        order.append("collect")
        gc.collect()

    def trim() -> None:
        order.append("trim")
        trimmed.set()

    trimmer = HeapTrimmer(60, trim=trim, collect=collect, settle=0.05)
    gc.disable()
    try:
        garbage = Cyclic()
        gone = weakref.ref(garbage)
        del garbage
        trimmer.start()
        trimmer.request()
        assert trimmed.wait(5)
        assert order == ["collect", "trim"] and gone() is None
    finally:
        trimmer.stop()
        gc.enable()


def test_periodic_passes_nobody_requested_only_trim() -> None:
    collected = threading.Event()
    trim = CountingTrim()
    trimmer = HeapTrimmer(0.01, trim=trim, collect=collected.set)
    trimmer.start()
    try:
        assert trim.reached.wait(5)
    finally:
        trimmer.stop()
    assert not collected.is_set()


def test_where_the_c_library_cannot_trim_requested_passes_still_collect() -> None:
    collected = threading.Event()
    trimmer = HeapTrimmer(60, trim=None, collect=collected.set, settle=0.01)
    trimmer.start()
    try:
        assert trimmer.active
        trimmer.request()
        assert collected.wait(5)
    finally:
        trimmer.stop()


def test_start_twice_runs_one_thread() -> None:
    trimmer = HeapTrimmer(10, trim=CountingTrim())
    trimmer.start()
    trimmer.start()
    try:
        assert [t.name for t in threading.enumerate()].count("heap-trim") == 1
    finally:
        trimmer.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_on_linux_the_c_library_trim_is_found_and_runs() -> None:
    trim = glibc_malloc_trim()
    assert trim is not None
    assert trim() in (0, 1)  # 1: memory was released, 0: there was none to release


def test_the_app_runs_the_trimmer_while_it_serves_and_reports_its_passes() -> None:
    app = create_app(make_settings(malloc_trim_interval_seconds=0.01))
    with TestClient(app) as client:
        trimmer = app.state.container.heap
        assert trimmer.active
        metrics = app.state.container.metrics
        for _ in range(200):
            if metrics.registry.get_sample_value("seiketsu_malloc_trim_seconds_count"):
                break
            threading.Event().wait(0.01)
        assert client.get("/healthz").status_code == 200
        assert metrics.registry.get_sample_value("seiketsu_malloc_trim_seconds_count") >= 1
    assert not trimmer.active


def test_the_test_apps_run_no_trimmer() -> None:
    app = create_app(make_settings())
    with TestClient(app):
        assert not app.state.container.heap.active
