"""The floor of any durable Python upload endpoint: an ASGI app that hashes, writes and syncs.

Each PUT body is hashed and written to a new file in $BENCH_BARE_UPLOAD_DIR, which is synced
(fsync) along with its folder before the 200, as Bit-image's local store does with an upload.
The file work runs in one thread hop, as in Bit-image's PUT route, so a sync never blocks
the event loop. bench_ingest_ratio.py, bench_ingest_floor.py and bench_ingest_cost.py serve
it with uvicorn, as `bitimage serve` is served, and compare Bit-image with it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any

import anyio.to_thread

FOLDER = os.environ.get("BENCH_BARE_UPLOAD_DIR", tempfile.gettempdir())


def store(chunks: list[bytes]) -> str:
    """Hash and write the chunks to a new file, sync it and its folder; the hex MD5."""
    digest = hashlib.md5(usedforsecurity=False)
    fd, _ = tempfile.mkstemp(dir=FOLDER)
    with os.fdopen(fd, "wb") as file:
        for chunk in chunks:
            digest.update(chunk)
            file.write(chunk)
        file.flush()
        os.fsync(file.fileno())
    folder = os.open(FOLDER, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return digest.hexdigest()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Store the request body durably; answer 200 with its MD5."""
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    etag = (await anyio.to_thread.run_sync(store, chunks)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"etag", etag)]})
    await send({"type": "http.response.body", "body": b""})
