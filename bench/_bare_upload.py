"""The floor of any Python upload endpoint: an ASGI app that hashes each PUT body and writes it.

bench_ingest_cost.py serves it with uvicorn, as `bitimage serve` is served, and compares the
instructions Bit-image spends on a PUT with what this app spends on the same bytes.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Hash and write the request body to a temporary file; answer 200 with its MD5."""
    if scope["type"] != "http":
        return
    digest = hashlib.md5(usedforsecurity=False)
    with tempfile.TemporaryFile() as file:
        more = True
        while more:
            message = await receive()
            body = message.get("body", b"")
            digest.update(body)
            file.write(body)
            more = message.get("more_body", False)
    etag = digest.hexdigest().encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"etag", etag)]})
    await send({"type": "http.response.body", "body": b""})
