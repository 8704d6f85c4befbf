"""`bitimage serve --processes 2` with BITIMAGE_METRICS and BITIMAGE_LOG_FORMAT=json.

Whichever process answers a scrape, it counts every process's requests; every log line the
server writes is one JSON object (the access lines with their fields).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import clean_env, running

HEALTH = {"method": "GET", "route": "/healthz", "status": "200"}


def _health_requests(http: httpx.Client) -> float:
    answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "bitimage_http_requests_total" and sample.labels == HEALTH:
                return sample.value
    return 0.0


def test_metrics_add_up_across_processes_and_logs_are_json(tmp_path: Path) -> None:
    env = clean_env(BITIMAGE_METRICS="true", BITIMAGE_LOG_FORMAT="json")
    args = ["serve", "--processes", "2", "--data-dir", str(tmp_path)]
    with (
        running(args, env, tmp_path / "server.log") as server,
        # A new connection for every request, so both processes answer some of them.
        httpx.Client(
            base_url=server.base, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
        ) as http,
    ):
        for _ in range(4):  # each round may be answered by either process
            before = _health_requests(http)
            for _ in range(10):
                assert http.get("/healthz").status_code == 200
            assert _health_requests(http) - before == 10
        output = server.output()
    assert output.count("Started server process") >= 2, output
    assert (tmp_path / "metrics").is_dir()  # the processes' shared folder
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    plain = [line for line in output.splitlines() if line and not line.startswith("{")]
    assert all(line.startswith("Bit-image listening on") for line in plain), plain
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any(r["path"] == "/healthz" and r["status"] == 200 for r in access), access[:3]
    assert {"time", "level", "logger", "message"} <= set(records[0])
