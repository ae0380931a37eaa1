"""Routes: /healthz (the process is up), /readyz (its database and Redis answer), /metrics.

``/healthz`` runs on the event loop and touches nothing, so it answers while every worker thread waits. ``/readyz``
answers 503 when the database is unreachable (nothing can be served), and 200 with ``"status": "degraded"`` and
the dependency named when Redis is: the service then runs on its fallbacks (local rate limits, jobs run from the
database by the workers' sweepers) and should stay in rotation.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse, Response

from seiketsu.auth.deps import get_container
from seiketsu.container import Container
from seiketsu.errors import problem_response

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(container: Container = Depends(get_container)) -> Response:
    checks: dict[str, str] = {}
    try:
        with container.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    if container.redis is not None and container.redis_breaker is not None:
        try:
            container.redis_breaker.call(container.redis.ping)
            checks["redis"] = "ok"
        except container.redis_breaker.unavailable as exc:
            logger.warning("readiness: redis unreachable: %s", type(exc).__name__)
            checks["redis"] = "unreachable"
    if checks["database"] == "ok":
        degraded = sorted(name for name, value in checks.items() if value != "ok")
        status = "degraded" if degraded else "ok"
        return JSONResponse({"status": status, "checks": checks} | ({"degraded": degraded} if degraded else {}))
    return problem_response(
        status=503,
        title="Service Unavailable",
        detail="a dependency is unreachable",
        instance="/readyz",
        extra={"checks": checks},
    )


@router.get("/metrics", include_in_schema=False)
def metrics(container: Container = Depends(get_container)) -> Response:
    return Response(container.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
