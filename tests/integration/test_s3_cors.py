"""`bitimage s3-cors`: the rule a browser needs to PUT straight to S3, set on both buckets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bitimage.cli.main import app
from tests.s3server import client, moto_s3

APP = "https://photos.example.org"


@pytest.fixture
def endpoint() -> Iterator[str]:
    with moto_s3(["web-main", "web-staging"]) as url:
        yield url


def test_the_rule_lets_the_web_application_put_and_get(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BITIMAGE_STORAGE_URL", "s3://web-main")
    monkeypatch.setenv("BITIMAGE_S3_STAGING_BUCKET", "web-staging")
    monkeypatch.setenv("BITIMAGE_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("BITIMAGE_PUBLIC_URL", APP)
    done = CliRunner().invoke(app, ["s3-cors", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "web-main, web-staging" in done.output
    s3 = client(endpoint)
    for bucket in ("web-main", "web-staging"):
        (rule,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        assert rule["AllowedOrigins"] == [APP]
        assert set(rule["AllowedMethods"]) == {"GET", "HEAD", "PUT"}
        assert rule["ExposeHeaders"] == ["ETag"]
    # The browser's preflight before a PUT of a JPEG passes for the app's origin only.
    preflight = {
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = httpx.options(
        f"{endpoint}/web-staging/staging/x", headers={"Origin": APP, **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers.get("access-control-allow-origin") == APP
    other = httpx.options(
        f"{endpoint}/web-staging/staging/x", headers={"Origin": "https://evil.example", **preflight}
    )
    assert other.status_code == 403


def test_the_local_store_needs_no_rule(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["s3-cors", "--data-dir", str(tmp_path)])
    assert done.exit_code == 2
    assert "needs no CORS" in done.output
