"""`bitimage serve --no-worker` and a separate `bitimage worker` share one data folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import clean_env, running
from tests.support import PASSWORD, make_jpeg, md5


def test_a_separate_worker_analyses_what_the_api_confirms(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(BITIMAGE_ANALYSERS="colours,metadata")
    api_args = ["serve", "--no-worker", "--data-dir", str(data)]
    with running(api_args, env, tmp_path / "api.log") as api:
        worker_log = (tmp_path / "worker.log").open("wb")
        command = [sys.executable, "-m", "bitimage.cli", "worker", "--concurrency", "2"]
        worker = subprocess.Popen(
            [*command, "--data-dir", str(data)],
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=api.base, timeout=10) as http:
                creds = {"email": "worker@example.com", "password": PASSWORD}
                assert http.post("/cas/signup", json=creds).status_code == 201
                token = http.post("/cas/loginSubmit", json=creds).json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                assert http.post("/api/v1/users", headers=headers).status_code == 201
                payload = make_jpeg(seed=5)
                url = http.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
                entry = url.json()["image_upload_urls"][0]
                assert httpx.put(entry["url"], content=payload).status_code == 200
                image = {"id": entry["image_id"], "name": "w", "hash": md5(payload)}
                body = {"images": [{**image, "is_private": True, "tags": []}]}
                assert http.post("/api/v1/images", headers=headers, json=body).status_code == 201
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    shown = http.get(
                        f"/api/v1/images/{entry['image_id']}/expanded", headers=headers
                    )
                    if shown.json()["analysis_status"] != "pending":
                        break
                    time.sleep(0.1)
                assert shown.json()["analysis_status"] == "done"
                assert shown.json()["colours"]
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            worker_log.close()
    output = (tmp_path / "worker.log").read_text()
    assert worker.returncode == 0, output
    assert "analysers loaded" in output
    assert "Traceback" not in output
