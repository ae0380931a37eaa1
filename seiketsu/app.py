"""The app factory: builds settings, the container and the web app, and wires every package into it.

Run with ``uvicorn seiketsu.app:create_app --factory``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from seiketsu.auth.api import router as auth_router
from seiketsu.blocking_threads import limit_blocking_threads
from seiketsu.container import Container, build_container
from seiketsu.errors import install_error_handlers
from seiketsu.gc_tuning import freeze_startup_objects, release_startup_objects
from seiketsu.health import router as health_router
from seiketsu.jobs.api import router as jobs_router
from seiketsu.jobs.embedded import InProcessDispatcher, InProcessWorker
from seiketsu.jobs.runner import JobRunner
from seiketsu.leads.api import router as leads_router
from seiketsu.observability.logging import configure_logging
from seiketsu.observability.metrics import RequestContextMiddleware
from seiketsu.request_guard import RequestGuardMiddleware
from seiketsu.settings import Settings, load_settings
from seiketsu.tenancy.api import router as tenancy_router
from seiketsu.wiring import package_routers, start_packages, stop_packages, wire_packages

logger = logging.getLogger(__name__)

DOCS_ASSETS_PATH = "/docs/assets"


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    container = container or build_container(settings)
    wire_packages(container)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_blocking_threads(settings.blocking_threads)
        worker: InProcessWorker | None = None
        if isinstance(container.jobs.dispatcher, InProcessDispatcher):
            worker = InProcessWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher)
            worker.start()
        await start_packages(container)
        if settings.freeze_gc_after_start:
            freeze_startup_objects()
        container.heap.start()
        logger.info("seiketsu started (%s jobs)", "in-process" if worker else "RQ")
        try:
            yield
        finally:
            container.heap.stop()
            if settings.freeze_gc_after_start:
                release_startup_objects()
            await stop_packages(container)
            if worker is not None:
                worker.stop()
            container.close()

    # The API docs' scripts and styles are served from an installed package, so /docs and /redoc work offline.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS_PATH,
        title="Seiketsu",
        version="0.1.0",
        description="Telephony voice agent for real-estate brokerages.",
        lifespan=lifespan,
    )
    app.state.container = container
    install_error_handlers(app)
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=container.metrics)
    if settings.trusted_proxies:
        # Outermost, so every layer sees the client's address. Without it the socket's peer is the client.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    for router in (health_router, auth_router, tenancy_router, leads_router, jobs_router, *package_routers()):
        app.include_router(router)
    return app
