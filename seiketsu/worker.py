"""``seiketsu worker``: runs background jobs with the same container the web app builds."""

from __future__ import annotations

import logging

from seiketsu.container import build_container
from seiketsu.gc_tuning import freeze_startup_objects
from seiketsu.jobs.embedded import InProcessDispatcher, InProcessWorker
from seiketsu.jobs.rq_backend import RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner
from seiketsu.observability.logging import configure_logging
from seiketsu.settings import Settings
from seiketsu.wiring import wire_packages

logger = logging.getLogger(__name__)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    configure_logging(settings.log_level)
    container = build_container(settings)
    wire_packages(container)
    if settings.freeze_gc_after_start:
        freeze_startup_objects()
    runner = JobRunner(container, container.runner_config)
    dispatcher = container.jobs.dispatcher
    container.heap.start()
    try:
        if isinstance(dispatcher, RQDispatcher):
            RQWorker(runner, dispatcher).work(burst=burst)
        elif isinstance(dispatcher, InProcessDispatcher):
            worker = InProcessWorker(runner, dispatcher)
            if burst:
                worker.run_pending()
            else:
                logger.info("no REDIS_URL: running jobs in this process")
                worker.start()
                dispatcher.wake.wait()  # until interrupted
    finally:
        container.heap.stop()
        container.close()
