"""The app's lifespan: start-up objects frozen out of the collector's reach while serving, released at stop; the
worker threads for blocking calls capped."""

from __future__ import annotations

import functools
import gc

from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool

from seiketsu.app import create_app
from seiketsu.gc_tuning import FULL_PASS_EVERY
from tests.conftest import make_settings
from tests.seiketsu.threads import Overlap, all_at_once


def test_start_up_objects_are_frozen_while_the_app_serves_and_released_when_it_stops() -> None:
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    app = create_app(make_settings(freeze_gc_after_start=True))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_threshold() == (*thresholds[:2], FULL_PASS_EVERY)  # full passes spaced out again
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the modules, the app and its container, at least
        gc.collect()
        # a full pass leaves them frozen (the count once rose by 2 in CI, never fell: compare with >=)
        assert gc.get_freeze_count() >= frozen
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


def test_the_test_suite_leaves_the_collector_alone() -> None:
    with TestClient(create_app(make_settings())) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold()[2] != FULL_PASS_EVERY


def test_blocking_calls_run_on_no_more_threads_than_configured() -> None:
    with TestClient(create_app(make_settings(blocking_threads=3))) as client:
        assert client.portal is not None
        overlap = Overlap()
        client.portal.call(all_at_once, 12, functools.partial(run_in_threadpool, overlap.work))
        assert overlap.peak == 3
