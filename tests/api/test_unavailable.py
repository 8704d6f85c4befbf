"""A dependency that is down gives 503 with the error body and Retry-After, never a 500."""

from __future__ import annotations

from pathlib import Path

from bitimage.bootstrap import bootstrap
from tests.beanstalkd import Beanstalkd, free_port
from tests.support import app_client, make_container, make_settings


def _assert_unavailable(answer: object, mentions: str) -> None:
    assert answer.status_code == 503, answer.text  # type: ignore[attr-defined]
    assert answer.headers["retry-after"] == "5"  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message", "detail"}
    assert body["error"] == "Service unavailable"
    assert mentions in body["message"]
    assert "Traceback" not in answer.text  # type: ignore[attr-defined]


def test_database_down(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    container = bootstrap(make_settings(tmp_path, database_url=url))
    try:
        with app_client(container) as client:
            _assert_unavailable(client.get("/healthz"), "database")
            _assert_unavailable(client.get("/api/v1/images/public/summary"), "database")
            _assert_unavailable(
                client.post("/cas/signup", json={"email": "a@b.co", "password": "x" * 12}),
                "database",
            )
    finally:
        container.close()


def test_queue_down(tmp_path: Path, database_url: str) -> None:
    with Beanstalkd() as beanstalkd:
        settings = make_settings(tmp_path, database_url=database_url, queue_url=beanstalkd.url)
        container = make_container(settings)
        try:
            with app_client(container) as client:
                assert client.get("/healthz").json()["queue"] == "ok"
                beanstalkd.stop()
                _assert_unavailable(client.get("/healthz"), "queue")
                beanstalkd.start()
                assert client.get("/healthz").status_code == 200
        finally:
            container.close()
