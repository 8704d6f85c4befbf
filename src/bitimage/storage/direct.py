"""Storage PUTs served straight from the ASGI entry: the framework's layers skipped, not its rules.

A 1 MB upload arrives in dozens of `receive()` calls, and every layer of the framework's
stack (its middlewares, routing, dependency solving) wraps each one: for the one request
that carries almost all the bytes, that cost as much again as hashing them. This middleware
hands a well-formed PUT /storage/... to the route's own function (`router.put_object`,
the one implementation) and answers its errors through the app's own exception handlers,
so the answers are the same. Anything unusual (a missing or repeated query parameter, an
expiry that is not a plain integer) goes through the framework as before, which answers it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bitimage.storage.router import PREFIX, SIGNATURE_MAX, StorageRoutes, put_object

Handler = Callable[[Request, Exception], Awaitable[Response]]
_INTEGER = re.compile(r"-?[0-9]{1,18}")


class DirectUploads:
    """Serves PUT /storage/{key} with put_object itself when the query is well formed."""

    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self.owner = owner  # the FastAPI app: its state (the routes) and exception handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """PUT /storage/... with a plain query: put_object; anything else: the app."""
        routes: StorageRoutes | None = getattr(self.owner.state, "storage_routes", None)
        query = _query(scope) if _is_storage_put(scope) and routes is not None else None
        if query is None or routes is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        key = _route_path(scope)[len(PREFIX) + 1 :]
        try:
            response = await put_object(key, query[0], query[1], request, routes)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        handlers: dict[Any, Handler] = self.owner.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                return handlers[kind]
        return None


def _is_storage_put(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "PUT"
        and _route_path(scope).startswith(PREFIX + "/")
    )


def _route_path(scope: Scope) -> str:
    # As the router matches it: the path below the app's root path.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _query(scope: Scope) -> tuple[int, str] | None:
    """(expires, signature) when each is given once in the form the route accepts."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    values = dict(pairs)
    expires, signature = values.get("expires"), values.get("signature")
    names = [name for name, _ in pairs]
    if names.count("expires") != 1 or names.count("signature") != 1:
        return None
    if expires is None or signature is None or not _INTEGER.fullmatch(expires):
        return None
    if len(signature) > SIGNATURE_MAX:
        return None
    return int(expires), signature
