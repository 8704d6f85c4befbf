"""RequestMetrics counts a request once, before the last bytes of its answer leave."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import REGISTRY
from starlette.types import Message, Receive, Scope, Send

from bitimage.monitoring import UNMATCHED, RequestMetrics


def _counted(method: str, status: str) -> float:
    labels = {"method": method, "route": UNMATCHED, "status": status}
    return REGISTRY.get_sample_value("bitimage_http_requests_total", labels) or 0.0


def _serve(app: RequestMetrics, method: str) -> list[tuple[Message, float]]:
    """Each message the server was sent, with the request count it saw then."""
    seen: list[tuple[Message, float]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        seen.append((message, _counted(method, "200")))

    scope: Scope = {"type": "http", "method": method, "path": "/somewhere", "headers": []}
    # On an event loop of its own thread: a test process that ran the browser tests keeps
    # Playwright's loop running on this one (its sync API), where asyncio.run() refuses.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return seen


def _streaming(chunks: int) -> RequestMetrics:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for n in range(chunks):
            await send({"type": "http.response.body", "body": b"x", "more_body": n < chunks - 1})

    return RequestMetrics(app)


@pytest.mark.parametrize("chunks", [1, 3])
def test_an_answer_is_counted_once_before_its_last_bytes_are_sent(chunks: int) -> None:
    method = f"GET{chunks}"  # a label of its own: counters are per process
    seen = _serve(_streaming(chunks), method)
    before_last = [count for _, count in seen[:-1]]
    assert before_last == [0.0] * chunks  # the start and every chunk but the last
    assert seen[-1][1] == 1.0  # a client holding the whole answer finds it counted
    assert _counted(method, "200") == 1.0  # and only once


def test_an_app_failing_before_it_answers_is_counted_as_500() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError):
        _serve(RequestMetrics(failing), "POSTFAIL")
    assert _counted("POSTFAIL", "500") == 1.0
