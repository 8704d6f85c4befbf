"""The cost of BITIMAGE_METRICS: requests/s of one app with and without /metrics' counting.

Two apps on one SQLite data folder each, driven in-process (Starlette's test client, so no
network noise): GET /api/v1/images/private/summary?limit=1 with a token, the two apps taking
turns `rounds` times; the best round of each counts. Baseline, same run: the app with
metrics off. Target: counting costs under 5% of the request rate. Then the time one scrape
of /metrics takes. Run: python -m bench.bench_metrics [--quick]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from bitimage.app import create_app
from bitimage.bootstrap import bootstrap
from bitimage.config import load_settings
from bitimage.db.migrate import upgrade

try:
    from bench._common import percentile, quick, table
except ModuleNotFoundError:  # run as `python bench/bench_metrics.py`
    from _common import percentile, quick, table  # type: ignore[import-not-found,no-redef]

PASSWORD = "correct horse battery"


def _client(folder: Path, metrics: bool) -> TestClient:
    settings = load_settings(
        data_dir=folder,
        run_worker=False,
        metrics=metrics,
        argon2_memory_kib=8192,
        argon2_time_cost=1,
    )
    container = bootstrap(settings)
    upgrade(container.database.engine)
    return TestClient(create_app(container), base_url="http://127.0.0.1:8000")


def _headers(client: TestClient) -> dict[str, str]:
    body = {"email": "bench@example.com", "password": PASSWORD}
    client.post("/cas/signup", json=body)
    token = client.post("/cas/loginSubmit", json=body).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/users", headers=headers)
    return headers


def _rate(client: TestClient, headers: dict[str, str], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        client.get("/api/v1/images/private/summary?limit=1", headers=headers)
    return calls / (time.perf_counter() - start)


def main() -> None:
    calls, rounds, scrapes = (300, 2, 20) if quick() else (2_000, 5, 100)
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as folder:
        off = _client(Path(folder, "off"), metrics=False)
        on = _client(Path(folder, "on"), metrics=True)
        with off, on:
            clients = {"off": (off, _headers(off)), "on": (on, _headers(on))}
            best = {"off": 0.0, "on": 0.0}
            for _ in range(rounds):
                for name, (client, headers) in clients.items():
                    best[name] = max(best[name], _rate(client, headers, calls))
            times = []
            for _ in range(scrapes):
                start = time.perf_counter()
                on.get("/metrics")
                times.append((time.perf_counter() - start) * 1000)
    times.sort()
    rows = [
        ("metrics off (baseline)", f"{best['off']:.0f}", "1.00"),
        ("metrics on", f"{best['on']:.0f}", f"{best['on'] / best['off']:.2f}"),
    ]
    print(table(rows, ("private summary, limit=1", "requests/s", "ratio")))
    print(
        f"GET /metrics: p50 {percentile(times, 0.5):.2f} ms, "
        f"p99 {percentile(times, 0.99):.2f} ms ({scrapes} scrapes)"
    )


if __name__ == "__main__":
    main()
