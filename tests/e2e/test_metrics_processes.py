"""`bitimage serve --processes 2` with BITIMAGE_METRICS and BITIMAGE_LOG_FORMAT=json.

Whichever process answers a scrape, it counts every process's requests; every log line the
server writes is one JSON object (the access lines with their fields).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import clean_env, running
from tests.support import PASSWORD, make_jpeg, upload

COMMAND = [sys.executable, "-m", "bitimage.cli"]
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
        # `running` returns once one process answers; the other may still be importing.
        server.wait_for("Application startup complete", count=2)
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


def _sample(base: str, name: str, **labels: str) -> float:
    answer = httpx.get(f"{base}/metrics")
    assert answer.status_code == 200, answer.text
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_a_separate_worker_serves_its_own_metrics(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(BITIMAGE_ANALYSERS="colours", BITIMAGE_METRICS="true")
    api_args = ["serve", "--no-worker", "--data-dir", str(data)]
    with (
        running(api_args, env, tmp_path / "api.log") as api,
        running(["worker", "--data-dir", str(data)], env, tmp_path / "worker.log") as worker,
        httpx.Client(base_url=api.base, timeout=10) as http,
    ):
        creds = {"email": "counted@example.com", "password": PASSWORD}
        assert http.post("/cas/signup", json=creds).status_code == 201
        token = http.post("/cas/loginSubmit", json=creds).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/v1/users", headers=headers).status_code == 201
        upload(http, headers, [make_jpeg(seed=7)])
        deadline = time.monotonic() + 60
        done = {"kind": "analyze", "outcome": "done"}
        while _sample(worker.base, "bitimage_jobs_total", **done) < 1:
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.1)  # waiting for the worker to finish the job, not hiding a race
        ran = {"analyser": "colours", "outcome": "ok"}
        assert _sample(worker.base, "bitimage_analysis_runs_total", **ran) == 1
        assert _sample(api.base, "bitimage_analysis_runs_total", **ran) == 0  # not the API's
        assert _sample(api.base, "bitimage_uploads_confirmed_total") == 1


def test_a_worker_whose_metrics_port_is_taken_says_so(tmp_path: Path) -> None:
    env = clean_env(BITIMAGE_ANALYSERS="colours", BITIMAGE_METRICS="true")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*COMMAND, "worker", "--data-dir", str(tmp_path), "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last
        == f"bitimage: cannot serve the worker's metrics on http://127.0.0.1:{port} (port in use?)"
    )
    assert "Traceback" not in done.stderr
