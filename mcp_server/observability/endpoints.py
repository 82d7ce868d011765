"""`/metrics` and `/readyz` on the HTTP server: what Prometheus and a load balancer ask.

`/metrics` wants an admin key (Prometheus sends it with its `authorization` scrape setting)
unless `TELCOPULSE_METRICS_PUBLIC=true`; its gauges (pool, sessions, data age, the pipeline's
figures) are read at scrape time, each best effort, so a dependency that is down never fails
the scrape (its gauge keeps the last value, data age turns NaN). `/readyz` needs no key and
says only which dependency fails (`readiness`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_server.observability.metrics import PROMETHEUS_TEXT, ServerMetrics
from mcp_server.observability.readiness import CHECK_TIMEOUT_S, check_readiness
from warehouse.pipeline_runs import pipeline_figures

logger = logging.getLogger(__name__)


def metrics_refused(request: Request, *, public: bool, auth_required: bool) -> JSONResponse | None:
    """403 for a key that is not an admin's (the key check itself already answered 401)."""
    if public or not auth_required:
        return None
    principal = request.scope.get("state", {}).get("principal")
    if principal is not None and principal.role == "admin":
        return None
    return JSONResponse(
        {
            "error": "Forbidden",
            "message": "metrics need an admin API key (or TELCOPULSE_METRICS_PUBLIC=true)",
        },
        status_code=403,
    )


async def metrics_response(server: Any, request: Request, *, public: bool | None = None) -> Response:
    """`public=True` skips the key check: the stdio server's own loopback-only metrics port has no keys."""
    settings = server.shared.settings
    public = settings.metrics_public if public is None else public
    refused = metrics_refused(request, public=public, auth_required=settings.auth_required)
    if refused is not None:
        return refused
    metrics: ServerMetrics = server.metrics
    app = server.shared.peek()
    if app is not None:
        await _read_gauges(metrics, app)
    return Response(metrics.render(), media_type=PROMETHEUS_TEXT)


async def _read_gauges(metrics: ServerMetrics, app: Any) -> None:
    metrics.pool_seen(app.pool)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            metrics.data_age_seen((await app.freshness.for_marts([])).age_seconds)
    except Exception as exc:  # PostgreSQL down: the age is unknown, not zero
        logger.debug("data age not read for /metrics (%s)", type(exc).__name__)
        metrics.data_age_seen(None)
    if metrics.sessions_due():
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                metrics.sessions_seen(await app.sessions.count_open())
        except Exception as exc:  # Redis down: keep the last count
            logger.debug("sessions not counted for /metrics (%s)", type(exc).__name__)
    if metrics.pipeline_due():
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S), app.pool.acquire() as conn:
                metrics.pipeline_seen(await pipeline_figures(conn))
        except Exception as exc:  # PostgreSQL down (or before migration 0011): keep the last figures
            logger.debug("pipeline figures not read for /metrics (%s)", type(exc).__name__)


async def readiness_response(server: Any) -> JSONResponse:
    readiness = await check_readiness(server.shared.peek())
    return JSONResponse(readiness.body(), status_code=200 if readiness.ready else 503)
