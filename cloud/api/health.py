"""Liveness, readiness and Prometheus metrics: no login (bind the API to a private address, as deployed)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from watertel.cloud import metrics
from watertel.cloud.api.deps import StoreDep
from watertel.cloud.api.schemas.session import Health, NotReady

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    """The process answers (liveness): on the event loop itself, no trip through the thread pool,
    so it says whether the loop is alive even while the pool is busy (e.g. with password checks)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": NotReady, "description": "the store does not answer"}})
def readyz(store: StoreDep) -> Health | JSONResponse:
    """The store answers too (readiness): a load balancer sends no one here before that."""
    try:
        store.ping()
    except Exception as err:  # any database failure means "not ready", with the reason
        return JSONResponse({"status": "unavailable", "store": type(err).__name__}, status_code=503)
    return Health(status="ok")


@router.get("/metrics", include_in_schema=False)
def prometheus() -> Response:
    """Prometheus text format."""
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
