"""Settings refuse bad values in one line; the login limiter counts a sliding window."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitimage.cas.ratelimit import RateLimiter
from bitimage.config import SettingsError, load_settings


def test_unknown_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BITIMAGE_DATABSE_URL", "sqlite://")
    with pytest.raises(SettingsError, match="unknown setting BITIMAGE_DATABSE_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("BITIMAGE_DATABASE_URL", "mysql://x", "sqlite"),
        ("BITIMAGE_STORAGE_URL", "ftp://x", "file://"),
        ("BITIMAGE_PORT", "99999", "BITIMAGE_PORT"),
        ("BITIMAGE_JWKS_URL", "https://issuer.example/jwks", "go together"),
        ("BITIMAGE_ENVIRONMENT", "production", "STORAGE_SECRET"),
    ],
)
def test_bad_settings_stop_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=words) as caught:
        load_settings(data_dir=tmp_path)
    assert "\n" not in str(caught.value)


def test_defaults_live_in_the_data_folder(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'bitimage.db'}"
    assert settings.resolved_storage_url == f"file://{tmp_path.resolve() / 'objects'}"
    assert settings.queue_url == "db://"
    assert settings.max_image_bytes == 20 * 1024 * 1024


def test_rate_limiter_window() -> None:
    limiter = RateLimiter(limit=2, window_seconds=60)
    assert limiter.hit("k", now=0) == 0
    assert limiter.hit("k", now=1) == 0
    assert limiter.hit("k", now=2) == 58
    assert limiter.hit("other", now=2) == 0
    assert limiter.hit("k", now=60.5) == 0
