"""`bitimage upload --skip-near-duplicates` against a real `bitimage serve` whose worker computes
each image's dHash: a resized, re-encoded copy of a held photo is skipped, another photo goes up."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from tests.e2e.test_client_cli import Cli
from tests.servers import clean_env, running
from tests.support import PASSWORD


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`bitimage serve` with its worker running the metadata analyser (the dHash) only."""
    data = tmp_path_factory.mktemp("server")
    env = clean_env(BITIMAGE_ANALYSERS="metadata")
    with running(["serve", "--data-dir", str(data)], env, data / "server.log") as served:
        yield served.base


def jpeg(name: str, size: tuple[int, int], quality: int) -> bytes:
    pixels: np.ndarray[Any, Any] = getattr(photos, name)()
    out = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").resize(size).save(out, "JPEG", quality=quality)
    return out.getvalue()


def analysed(cli: Cli, image_id: str) -> None:
    """Wait for the worker to analyse the image (its dHash is what the look-up reads)."""
    deadline = time.monotonic() + 60
    status = "pending"
    while status == "pending" and time.monotonic() < deadline:
        shown = cli("show", image_id, "--json")
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)["analysis_status"]
        if status == "pending":
            time.sleep(0.1)  # waiting for the worker's job, not hiding a race
    assert status == "done"


def test_upload_skips_a_near_copy_only_when_asked(server: str, tmp_path: Path) -> None:
    cli = Cli(server, tmp_path)
    signup = cli("signup", "--email", "near@example.com", "--password-stdin", stdin=PASSWORD)
    assert signup.returncode == 0, signup.stderr
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "cat.jpg").write_bytes(jpeg("chelsea", (1200, 800), 92))
    first = cli("upload", "first", "--json")
    assert first.returncode == 0, first.stderr
    held = json.loads(first.stdout)["files"][0]["image_id"]
    analysed(cli, held)

    folder = tmp_path / "later"
    folder.mkdir()
    (folder / "cat small.jpg").write_bytes(jpeg("chelsea", (600, 400), 45))
    (folder / "coffee.jpg").write_bytes(jpeg("coffee", (1200, 800), 92))
    assert cli("upload", "later", "--max-distance", "3").returncode == 2  # needs the flag
    near = cli("upload", "later", "--skip-near-duplicates", "--json")
    assert near.returncode == 0, near.stderr
    report = json.loads(near.stdout)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    cat, coffee = by_name["cat small.jpg"], by_name["coffee.jpg"]
    assert cat["status"] == "skipped"
    assert cat["image_id"] == held
    assert cat["reason"].startswith(f"near duplicate of image {held} (distance ")
    assert coffee["status"] == "uploaded"
    count = json.loads(cli("whoami", "--json").stdout)["image_upload_count"]
    assert count == 2  # the copy's bytes were never confirmed
    # The text report names the image with --verbose; without the flag the copy goes up.
    again = cli("upload", "later", "--skip-near-duplicates", "--verbose")
    assert again.returncode == 0, again.stderr
    assert f"(near duplicate of image {held} (distance " in again.stdout
    assert "0 uploaded, 2 skipped" in again.stdout
    plain = cli("upload", "later", "--json")
    assert json.loads(plain.stdout)["uploaded"] == 1
