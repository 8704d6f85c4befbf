"""`bitimage backup` while a server takes uploads, `bitimage restore` into a new folder: the
restored server serves every image the backup holds, with its hash, and every image confirmed
before the backup began is among them."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from bitimage.cli.backup import BackupError, backup, restore
from bitimage.cli.main import app
from tests.servers import clean_env, running
from tests.support import PASSWORD, make_container, make_jpeg, make_settings


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Uploader:
    """Uploads small batches in a loop until stopped; remembers each confirmed id's MD5."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base, headers=headers, timeout=30)
        self.confirmed: dict[str, str] = {}
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self._lock = threading.Lock()
        self.batches = threading.Semaphore(0)

    def snapshot(self) -> dict[str, str]:
        """The images confirmed so far."""
        with self._lock:
            return dict(self.confirmed)

    def run(self) -> None:
        """Upload batches of 3 until stopped (a failure is kept for the test to raise)."""
        seed = 0
        try:
            while not self.stop.is_set():
                payloads = [make_jpeg(seed=seed + n) for n in range(3)]
                seed += 3
                urls = self.http.get("/api/v1/images/upload_urls?image_count=3")
                entries = urls.json()["image_upload_urls"]
                for entry, data in zip(entries, payloads, strict=True):
                    assert httpx.put(entry["url"], content=data).status_code == 200
                images = [
                    {"id": entry["image_id"], "name": f"n{seed}", "hash": _md5(data)}
                    for entry, data in zip(entries, payloads, strict=True)
                ]
                answer = self.http.post("/api/v1/images", json={"images": images})
                assert answer.status_code == 201, answer.text
                with self._lock:
                    self.confirmed.update({image["id"]: image["hash"] for image in images})
                self.batches.release()
        except BaseException as exc:  # handed to the test's thread
            self.failure = exc


def _all_images(http: httpx.Client) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/api/v1/images/private/summary", params=params).json()
        images += page["images"]
        cursor = page["next_cursor"]
        if cursor is None:
            return images


def test_backup_under_load_restores_every_confirmed_image(tmp_path: Path) -> None:
    source, restored, backup = tmp_path / "source", tmp_path / "restored", tmp_path / "backup"
    # The embedded worker runs too (renditions written beside the uploads); a light analyser.
    env = clean_env(BITIMAGE_ANALYSERS="colours")
    creds = {"email": "backed-up@example.com", "password": PASSWORD}
    with running(["serve", "--data-dir", str(source)], env, tmp_path / "source.log") as server:
        assert httpx.post(f"{server.base}/cas/signup", json=creds).status_code == 201
        token = httpx.post(f"{server.base}/cas/loginSubmit", json=creds).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{server.base}/api/v1/users", headers=headers).status_code == 201
        uploader = Uploader(server.base, headers)
        thread = threading.Thread(target=uploader.run)
        thread.start()
        try:
            for _ in range(3):  # some images exist before the backup starts
                assert uploader.batches.acquire(timeout=60), uploader.failure
            before = uploader.snapshot()
            done = subprocess.run(
                [sys.executable, "-m", "bitimage.cli", "backup", str(backup)],
                env={**env, "BITIMAGE_DATA_DIR": str(source)},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            during = uploader.snapshot()
        finally:
            uploader.stop.set()
            thread.join()
            uploader.http.close()
        port = server.port
        assert uploader.failure is None, uploader.failure
    assert done.returncode == 0, done.stderr
    assert len(during) > len(before), "no upload was confirmed while the backup ran"
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["missing_objects"] == []
    assert sorted(manifest["secrets"]) == ["cas_ed25519.pem", "storage.key"]

    done = subprocess.run(
        [sys.executable, "-m", "bitimage.cli", "restore", str(backup)],
        env={**env, "BITIMAGE_DATA_DIR": str(restored)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with (
        # The same address: the token's issuer is the server's URL.
        running(
            ["serve", "--data-dir", str(restored)], env, tmp_path / "restored.log", port
        ) as again,
        httpx.Client(base_url=again.base, headers=headers, timeout=30) as http,
    ):
        # The old token still works: the CAS keys came back with the data.
        images = _all_images(http)
        ids = {image["id"] for image in images}
        assert len(ids) == manifest["images"]
        assert set(before) <= ids <= set(uploader.confirmed)
        for image_id in ids:
            shown = http.get(f"/api/v1/images/{image_id}/expanded").json()
            assert shown["hash"] == uploader.confirmed[image_id]
            assert _md5(httpx.get(shown["view_url"]).content) == shown["hash"]


def test_backup_refuses_what_it_does_not_cover(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    cases = [
        (["backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "none")], "no database"),
        (["restore", str(tmp_path / "full"), "--data-dir", str(tmp_path / "r")], "not a complete"),
    ]
    for words, says in cases:
        done = runner.invoke(app, words)
        assert done.exit_code == 2, done.output
        assert says in done.stderr
    env = {"BITIMAGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = runner.invoke(app, ["backup", str(tmp_path / "b")], env=env)
    assert done.exit_code == 2
    assert "pg_dump" in done.stderr


def test_two_restores_into_one_folder_restore_once(tmp_path: Path) -> None:
    source = tmp_path / "source"
    data = make_settings(source)
    make_container(data).close()  # a migrated, empty database and its secrets
    backup(data, tmp_path / "backup")
    target = make_settings(tmp_path / "target")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def restore_once() -> None:
        barrier.wait()
        try:
            restore(target, tmp_path / "backup")
            outcomes.append("restored")
        except BackupError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=restore_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[-1] == "restored"
    assert "restore into a new data folder" in sorted(outcomes)[0]
    assert [p.name for p in (tmp_path / "target").iterdir() if p.name.startswith(".")] == []
