"""The client's plumbing: the connection pool, auth headers, retries, typed parsing, streaming."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bitimage.client.credentials import DEFAULT_SERVER, normalise_server
from bitimage.client.errors import (
    ConnectionFailed,
    MalformedToken,
    NotLoggedIn,
    ServerError,
    error_from_response,
)
from bitimage.client.models import TokenClaims
from bitimage.client.retry import RetryPolicy, send_with_retries

M = TypeVar("M", bound=BaseModel)
CHUNK = 512 * 1024  # bytes read from disk per piece of a PUT or download


class BaseClient:
    """HTTP plumbing shared by every route of `Client`."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        token: str | None = None,
        *,
        cas_url: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 64,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = normalise_server(server)
        self.cas_url = normalise_server(cas_url) if cas_url else f"{self.server}/cas"
        self.token = token
        self.retry = retry or RetryPolicy()
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.Client(timeout=timeout, limits=limits, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _headers(self, auth: bool | None) -> dict[str, str]:
        if auth is False or (auth is None and not self.token):
            return {}
        if not self.token:
            raise NotLoggedIn(f"Not logged in to {self.server}: run `bitimage login` first")
        return {"Authorization": f"Bearer {self.token}"}

    def request(
        self,
        method: str,
        url: str,
        *,
        expect: int,
        auth: bool | None = True,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; raise the ApiError of any answer other than `expect`."""
        if url.startswith("/"):
            url = f"{self.server}{url}"
        headers = {**self._headers(auth), **kwargs.pop("headers", {})}
        response = send_with_retries(
            retry or self.retry,
            lambda: self._http.request(method, url, headers=headers, **kwargs),
            what=f"{method} {url.split('?')[0]}",
        )
        if response.status_code != expect:
            raise error_from_response(response)
        return response

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ServerError(f"Unexpected answer from {response.url}: {exc}") from None

    def claims(self) -> TokenClaims:
        """The claims of our token (user id, email, expiry), decoded locally, not verified."""
        if not self.token:
            raise NotLoggedIn(f"Not logged in to {self.server}: run `bitimage login` first")
        try:
            payload = self.token.split(".")[1]
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            user = data.get("user_id") or data.get("sub")
            return TokenClaims(user_id=user, email=data.get("email"), exp=data.get("exp"))
        except (IndexError, ValueError, binascii.Error, AttributeError, ValidationError):
            raise MalformedToken("The token is malformed (not a JWT)") from None

    def put_object(
        self,
        url: str,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
        md5: bool = False,
    ) -> str | None:
        """PUT `size` bytes of a file to a signed URL, streamed from disk, retried from the start.

        With `md5=True` the hex MD5 of the bytes sent is computed on the way and returned.
        """
        path = Path(source) if isinstance(source, (str, os.PathLike)) else None
        handle = None if isinstance(source, (str, os.PathLike)) else source
        start = handle.tell() if handle is not None else 0
        if size is None:
            size = path.stat().st_size if path is not None else _remaining(handle)
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        state: dict[str, Any] = {"sent": 0, "md5": None}

        def chunks(stream: IO[bytes]) -> Iterator[bytes]:
            digest = hashlib.md5(usedforsecurity=False) if md5 else None
            state["sent"], state["md5"] = 0, None
            while state["sent"] < size and (piece := stream.read(min(CHUNK, size - state["sent"]))):
                state["sent"] += len(piece)
                if digest is not None:
                    digest.update(piece)
                if progress is not None:
                    progress(len(piece))
                yield piece
            state["md5"] = digest.hexdigest() if digest is not None else None

        def attempt() -> httpx.Response:
            if state["sent"] and progress is not None:
                progress(-state["sent"])  # a retry sends everything again
            state["sent"] = 0
            if path is None:
                assert handle is not None
                handle.seek(start)
                return self._http.put(url, content=chunks(handle), headers=headers)
            with path.open("rb") as stream:
                return self._http.put(url, content=chunks(stream), headers=headers)

        response = send_with_retries(self.retry, attempt, what="upload")
        if response.status_code not in (200, 201, 204):
            raise error_from_response(response)
        return state["md5"] if md5 else None

    def fetch(self, url: str, out: IO[bytes]) -> None:
        """GET a signed URL (no token sent) and write its bytes to `out`, streamed."""
        try:
            with self._http.stream("GET", url) as answer:
                if answer.status_code != 200:
                    answer.read()
                    raise error_from_response(answer)
                for piece in answer.iter_bytes(CHUNK):
                    out.write(piece)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"download failed: {exc or type(exc).__name__}") from exc


def _remaining(handle: IO[bytes] | None) -> int:
    assert handle is not None
    here = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    handle.seek(here)
    return end - here
