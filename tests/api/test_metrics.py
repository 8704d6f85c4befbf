"""GET /metrics (BITIMAGE_METRICS=true): what it counts, its token, and its absence by default.

Counters are per process and the tests share one: each test reads them before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bitimage.analysis.colours import ColourAnalyser
from bitimage.analysis.ports import AnalysisResult, DecodedImage
from bitimage.bootstrap import Container
from bitimage.db.base import utcnow
from bitimage.queue.worker import Worker
from tests.support import (
    app_client,
    auth,
    make_container,
    make_jpeg,
    make_settings,
    stage,
    upload,
)

TOKEN = "metrics-token-0123456789"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def metered(tmp_path: Path, database_url: str) -> Iterator[tuple[Container, TestClient]]:
    settings = make_settings(
        tmp_path / "data",
        database_url=database_url,
        metrics=True,
        metrics_token=TOKEN,
        analysers="colours",
    )
    container = make_container(settings)
    with app_client(container) as client:
        yield container, client
    container.close()


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


class Failing:
    """An analyser that always fails, as a broken model would."""

    name = "broken"
    model = "broken-1"

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        raise RuntimeError("the model file is corrupt")


def test_requests_uploads_groups_and_queue_are_counted(
    metered: tuple[Container, TestClient],
) -> None:
    _, client = metered
    headers = auth(client, "metered@example.com")
    before = scrape(client)
    payloads = [make_jpeg(seed=n) for n in range(3)]
    upload(client, headers, payloads)
    assert client.get("/no/such/route/42").status_code == 404
    after = scrape(client)

    assert grew(before, after, "bitimage_uploads_confirmed_total") == 3
    assert grew(before, after, "bitimage_uploads_confirmed_bytes_total") == sum(map(len, payloads))
    assert grew(before, after, "bitimage_notify_group_batches_count") == 1
    assert grew(before, after, "bitimage_notify_group_batches_sum") == 1
    posted = {"method": "POST", "route": "/api/v1/images", "status": "201"}
    assert grew(before, after, "bitimage_http_requests_total", **posted) == 1
    assert grew(before, after, "bitimage_http_request_duration_seconds_count", **posted) == 1
    # The local store's PUTs are answered before routing (storage/direct.py): still one route.
    put = {"method": "PUT", "route": "/storage/{key:path}", "status": "200"}
    assert grew(before, after, "bitimage_http_requests_total", **put) == 3
    missing = {"method": "GET", "route": "unmatched", "status": "404"}
    assert grew(before, after, "bitimage_http_requests_total", **missing) == 1
    assert after[("bitimage_queue_jobs", (("state", "ready"),))] == 3
    assert after[("bitimage_queue_jobs", (("state", "buried"),))] == 0


def test_analysis_jobs_sweeps_and_purges_are_counted(
    metered: tuple[Container, TestClient],
) -> None:
    container, client = metered
    headers = auth(client, "worker@example.com")
    upload(client, headers, [make_jpeg(seed=1), make_jpeg(seed=2)])
    before = scrape(client)
    container.analysis.analysers = [ColourAnalyser(), Failing()]
    worker = Worker(container.queue, container.jobs.handle, container.jobs.give_up, 1)
    while worker.run_once(0):
        pass
    stage(client, headers, [make_jpeg(seed=3)])  # never confirmed: the sweeper's
    later = utcnow() + timedelta(seconds=container.settings.upload_url_ttl_seconds * 2)
    container.sweeper.clock = lambda: later
    container.sweeper.sweep()
    after = scrape(client)

    assert (
        grew(before, after, "bitimage_analysis_runs_total", analyser="colours", outcome="ok") == 2
    )
    assert (
        grew(before, after, "bitimage_analysis_runs_total", analyser="broken", outcome="failed")
        == 2
    )
    assert grew(before, after, "bitimage_analysis_duration_seconds_count", analyser="colours") == 2
    assert grew(before, after, "bitimage_jobs_total", kind="analyze", outcome="buried") == 2
    assert grew(before, after, "bitimage_sweeper_expired_uploads_total") == 1
    assert grew(before, after, "bitimage_purges_total") >= 1
    assert after[("bitimage_queue_jobs", (("state", "ready"),))] == 0
    assert after[("bitimage_queue_jobs", (("state", "buried"),))] == 2


def test_the_token_guards_the_page(metered: tuple[Container, TestClient]) -> None:
    _, client = metered
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["message"] == "The metrics token is missing or wrong"


def test_no_metrics_unless_asked(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_openapi_describes_the_page(metered: tuple[Container, TestClient]) -> None:
    _, client = metered
    page = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert set(page["responses"]) == {"200", "401", "500"}
    assert "text/plain; version=0.0.4; charset=utf-8" in page["responses"]["200"]["content"]
