"""A pure ASGI middleware that refuses request bodies over a size, before reading them."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bitimage.config import describe_size
from bitimage.errors import BodyTooLarge

STORAGE_PREFIX = "/storage/"  # the local store's PUT has its own, larger limit


class BodyTooLargeError(HTTPException):
    """Raised from `receive` when a streamed body passes the limit; answered as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit), headers={"Connection": "close"})


def _message(limit: int) -> str:
    return f"The request body is larger than the limit of {describe_size(limit)}"


def _refusal(limit: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the 413 answer; the connection closes after it."""
    error = BodyTooLarge(_message(limit))
    body = json.dumps(error.payload()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return error.status_code, headers, body


class BodyLimit:
    """413 for a declared Content-Length over `limit`, or once a streamed body passes it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what the app reads."""
        if scope["type"] != "http" or scope["path"].startswith(STORAGE_PREFIX):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _refuse(send, self.limit)  # nothing of the body was read
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError(self.limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError:
            # Only when the app let it escape (a body read outside FastAPI's own parsing).
            if started:
                raise
            await _refuse(send, self.limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(send: Send, limit: int) -> None:
    status, headers, body = _refusal(limit)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
