"""Rate-limit keys of client addresses, and the trusted-proxy setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitimage.cas.ratelimit import address_key
from bitimage.config import SettingsError, load_settings


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("testclient") == "testclient"


@pytest.mark.parametrize(
    ("value", "stored"),
    [("", ""), (" 10.0.0.1 , 10.1.0.0/16,::1", "10.0.0.1,10.1.0.0/16,::1"), ("10.0.0.1,*", "*")],
)
def test_trusted_proxies(tmp_path: Path, value: str, stored: str) -> None:
    assert load_settings(data_dir=tmp_path, forwarded_allow_ips=value).forwarded_allow_ips == stored


def test_a_malformed_trusted_proxy_stops_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"BITIMAGE_FORWARDED_ALLOW_IPS.*proxy\.local"):
        load_settings(data_dir=tmp_path, forwarded_allow_ips="10.0.0.1,proxy.local")
