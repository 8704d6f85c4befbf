"""create_app: routers, error handlers, the health check and the embedded worker's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from bitimage import __version__, textrules
from bitimage.background import BackgroundServices
from bitimage.bodylimit import BodyLimit
from bitimage.bootstrap import Container
from bitimage.cas.router import router as cas_router
from bitimage.db.errors import is_connection_failure
from bitimage.errors import (
    AppError,
    BodyTooLarge,
    ErrorBody,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from bitimage.images.router import router as images_router
from bitimage.monitoring import install_metrics
from bitimage.queue.ports import QueueUnavailable
from bitimage.storage.direct import DirectUploads
from bitimage.storage.keys import STAGING_PREFIX
from bitimage.storage.ports import StoreUnavailable
from bitimage.storage.router import StorageRoutes
from bitimage.storage.router import router as storage_router
from bitimage.users.router import router as users_router
from bitimage.web.router import web_router

log = logging.getLogger("bitimage")

DESCRIPTION = """Upload images through pre-signed URLs, confirm them with their MD5 and tags,
and find them again by name, tag or content label. Every error answer has the body
`{"error", "message", "detail"}`, plus `image_id` when the error concerns one image."""


def _error_response(error: AppError) -> JSONResponse:
    return JSONResponse(
        error.payload(),
        status_code=error.status_code,
        headers=error.headers,
    )


# What a pattern means, in words: the patterns themselves are long character tables.
_PATTERN_WORDS = {
    textrules.PLAIN_TEXT: f"must contain {textrules.RULE}",
    textrules.VISIBLE_TEXT: f"must contain a visible character and {textrules.RULE}",
    textrules.NOT_BLANK: "must not be only white space",
    textrules.EMAIL: f"must be an email address (name@domain.tld) with {textrules.RULE}",
}


def _problem(err: Mapping[str, Any]) -> str:
    pattern = (err.get("ctx") or {}).get("pattern")
    if err.get("type") == "string_pattern_mismatch" and isinstance(pattern, str):
        if pattern in _PATTERN_WORDS:
            return _PATTERN_WORDS[pattern]
        if len(pattern) > 80:
            return "has the wrong form (its pattern is in /openapi.json)"
    return str(err.get("msg", "is invalid"))


def _describe_validation(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors()[:3]:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body",)]
        where = (
            ".".join(loc[1:]) if loc and loc[0] in ("query", "path", "header") else ".".join(loc)
        )
        kind = loc[0] if loc and loc[0] in ("query", "path", "header") else "body"
        problems.append(f"{kind} field '{where or 'body'}': {_problem(err)}")
    return "; ".join(problems) or "the request is malformed"


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    # Asks the routes themselves (included routers too) which methods they take on this path.
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


def install_error_handlers(app: FastAPI) -> None:
    """Turn every failure into the API's error body; never a stack trace."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(InvalidRequest(_describe_validation(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error: AppError
        # The exception's headers belong to the answer (Connection on a 413, for one).
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            error = NotFound(f"No route {request.method} {request.url.path}", "See /docs")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            # Starlette names only the first route of the path; the answer lists them all.
            headers["Allow"] = _allowed_methods(request)
        elif exc.status_code == 413:
            error = BodyTooLarge(str(exc.detail))
        else:
            error = InvalidRequest(str(exc.detail))
        response = _error_response(error)
        response.status_code = exc.status_code
        response.headers.update(headers)
        return response

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if is_connection_failure(exc):
            log.error("database unavailable: %s", exc)
            return _error_response(
                ServiceUnavailable("The database is unavailable", headers={"Retry-After": "5"})
            )
        # Anything else is a statement the service should not have sent: a bug, not an outage.
        log.error(
            "database error on %s %s (a bug)",
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return _error_response(AppError("An unexpected error occurred; nothing was changed"))

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("object store error: %s", exc)
        return _error_response(
            ServiceUnavailable("The object store is unavailable", headers={"Retry-After": "5"})
        )

    @app.exception_handler(QueueUnavailable)
    async def _queue_down(_: Request, exc: QueueUnavailable) -> JSONResponse:
        log.error("job queue error: %s", exc)
        return _error_response(
            ServiceUnavailable("The job queue is unavailable", headers={"Retry-After": "5"})
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error_response(AppError("An unexpected error occurred; nothing was changed"))


def _health(container: Container) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with container.database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except (DBAPIError, OSError) as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    if container.database.replica_engine is not None:  # BITIMAGE_DATABASE_READ_URL
        try:
            with container.database.replica_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["replica"] = "ok"
        except (DBAPIError, OSError) as exc:
            checks["replica"] = f"down: {type(exc).__name__}"
    try:
        container.store.ping()
        checks["storage"] = "ok"
    except (StoreUnavailable, OSError) as exc:
        checks["storage"] = f"down: {exc}"
    if container.relay is not None:  # a separate broker; on db:// the queue is the database
        try:
            container.relay.ping()
            checks["queue"] = "ok"
        except (QueueUnavailable, OSError) as exc:
            checks["queue"] = f"down: {exc}"
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        error = ServiceUnavailable(
            f"Unavailable: {', '.join(f'{n} ({checks[n]})' for n in down)}",
            headers={"Retry-After": "5"},
        )
        return _error_response(error)
    return JSONResponse({"status": "ok", **checks})


def _openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 on every route; this API answers 400 with ErrorBody instead."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            answers = operation.get("responses", {})
            if "HTTPValidationError" in str(answers.get("422", {})):
                answers.pop("422")
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    app.openapi_schema = schema
    return schema


def _store_origins(container: Container) -> list[str]:
    """The origins the store's signed URLs point at (S3, or this server's public URL)."""
    # Signing is local computation: no request reaches the store.
    urls = [
        container.store.presign_get("web/origin-probe", 60),
        container.store.presign_put(f"{STAGING_PREFIX}web/origin-probe", 60),
    ]
    origins = []
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme in ("http", "https") and origin not in origins:
            origins.append(origin)
    return origins


def create_app(container: Container, *, api: bool = True, cas: bool = True) -> FastAPI:
    """The ASGI app: the API (with the local store's routes) and/or the CAS."""
    settings = container.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        background = None
        if api:
            run = settings.run_worker
            background = BackgroundServices(container, worker=run, sweeper=run)
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.stop()

    app = FastAPI(
        title="Bit-image",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by the web package from its own files: FastAPI's pages load a CDN.
        docs_url=None,
        redoc_url=None,
        responses={500: {"model": ErrorBody, "description": "Internal server error"}},
    )
    app.state.container = container
    app.add_middleware(BodyLimit, limit=settings.max_json_bytes)
    install_error_handlers(app)
    if cas and settings.jwks_url is None:
        app.include_router(cas_router)
    if api:
        app.include_router(users_router)
        app.include_router(images_router)
        if container.local_store is not None:
            app.state.storage_routes = StorageRoutes(
                container.local_store,
                container.database,
                settings.max_image_bytes,
                container.uploads.grants.check_put,
            )
            app.include_router(storage_router)
            # Outermost: an upload's many receive() calls skip every layer below.
            app.add_middleware(DirectUploads, owner=app)
    if settings.metrics:  # after DirectUploads: its counting wraps the direct uploads too
        install_metrics(app, settings.metrics_token, getattr(container.queue, "stats", None))
    # The page needs the API beside it; the docs (a CAS alone has its own) do not.
    app.include_router(web_router(lambda: _store_origins(container), app_page=api))

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Whether the database, the store and the job queue answer",
        responses={503: {"model": ErrorBody, "description": "A dependency is down"}},
    )
    def healthz() -> JSONResponse:
        """200 when the database, object store and queue answer, else 503 naming what is down."""
        return _health(container)

    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]
    return app
