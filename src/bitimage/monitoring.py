"""GET /metrics and the middleware that counts every request (BITIMAGE_METRICS=true)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bitimage import metrics
from bitimage.errors import AuthorizationFailed, ErrorBody
from bitimage.storage.router import PREFIX as STORAGE_PREFIX

UNMATCHED = "unmatched"  # a 404's path is the client's choice: never a label of its own
STORAGE_ROUTE = f"{STORAGE_PREFIX}/{{key:path}}"  # the template of the store's own routes


class RequestMetrics:
    """Counts and times each HTTP request by method, route template and status (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            return str(getattr(route, "path", UNMATCHED))
        # Answered before routing: the local store's direct PUTs (storage/direct.py).
        if str(scope.get("path", "")).startswith(f"{STORAGE_PREFIX}/"):
            return STORAGE_ROUTE
        return UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; note its status when the answer starts, count it as its last
        bytes leave (or when the app fails before answering)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering
        counted = False

        def count() -> None:
            nonlocal counted
            counted = True
            labels = (scope["method"], self._template(scope), str(status))
            metrics.REQUESTS.labels(*labels).inc()
            metrics.REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Before the last bytes, not after: once a client has its answer, a scrape it
                # sends to another process of `serve --processes N` already counts it.
                count()
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            if not counted:
                count()


def metrics_router(token: str | None, stats: Callable[[], Any] | None) -> APIRouter:
    """GET /metrics, behind `Authorization: Bearer <token>` when a token is set."""
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics (BITIMAGE_METRICS=true)",
        response_class=Response,
        responses={
            200: {
                "content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}},
                "description": "Every metric, in Prometheus' text format",
            },
            401: {
                "model": ErrorBody,
                "description": "BITIMAGE_METRICS_TOKEN is set and the bearer token differs",
            },
        },
    )
    def metrics_page(
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Response:
        """Requests, uploads, notify groups, analysis, jobs, queue depth, sweeps and purges."""
        if token is not None:
            sent = (authorization or "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(sent.encode(), token.encode()):
                raise AuthorizationFailed(
                    "The metrics token is missing or wrong",
                    "Send 'Authorization: Bearer <BITIMAGE_METRICS_TOKEN>'",
                )
        return Response(metrics.render(stats), media_type=metrics.CONTENT_TYPE)

    return router


def install_metrics(app: FastAPI, token: str | None, stats: Callable[[], Any] | None) -> None:
    """Add /metrics and the counting middleware (outermost, so it sees every answer)."""
    app.include_router(metrics_router(token, stats))
    app.add_middleware(RequestMetrics)
