"""SigV4Presigner against botocore's own presigned URLs: equal byte for byte on a frozen clock."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore.auth
import botocore.session
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bitimage.storage.keys import permanent_key, staging_key
from bitimage.storage.sigv4 import AddressingStyle, SigV4Presigner

ACCESS_KEYS = ["AKIAIOSFODNN7EXAMPLE", "ak/with+odd=chars"]
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKENS = [None, "FwoGZXIvYXdzEJr//////////wEaDH+Ab12/cd==", "tök€n with spaces&=?"]
REGIONS = [
    "us-east-1",
    "us-east-2",
    "eu-west-1",
    "ap-southeast-2",
    "sa-east-1",
    "cn-north-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "eusc-de-east-1",
]
ENDPOINTS = [
    None,
    "http://127.0.0.1:5000",
    "http://localhost:9000",
    "https://minio.example.com",
    "https://Minio.Example.COM:443/",
    "http://h:80/pre/",
    "https://s3.example.com:8443/base",
    "http://[::1]:9000",
]
STYLES: list[AddressingStyle] = ["auto", "path", "virtual"]

service_keys = st.builds(permanent_key, st.uuids(), st.uuids()) | st.builds(
    staging_key, st.uuids(), st.uuids()
)
any_keys = st.text(st.characters(codec="utf-8"), min_size=1, max_size=80)
odd_keys = st.text(" /.~-_!*'()+=&?#%:@$,;[]{}\\^`|\"<>\t\nü€😀", min_size=1, max_size=40)
buckets = st.sampled_from(
    ["bkt", "my-bucket", "my.bucket", "Bkt", "Bkt_x", "a", "ab", "192.168.1.2", "a..b", "xn--a"]
) | st.from_regex(r"[a-zA-Z0-9._-]{1,63}", fullmatch=True).filter(
    lambda name: not name.endswith("--x-s3")
)
clocks = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31))


@contextlib.contextmanager
def frozen_botocore_clock(when: dt.datetime, *, old_style: bool = False) -> Iterator[None]:
    """Make botocore's signers see `when` (naive UTC) as the current time.

    Recent botocore reads the clock through botocore.compat.get_current_datetime (imported by
    name into botocore.auth); older releases call datetime.datetime.utcnow() on the module
    botocore.auth imported, which `old_style` (or its absence) patches instead.
    """
    naive = when.replace(tzinfo=None)
    aware = naive.replace(tzinfo=dt.UTC)
    if hasattr(botocore.auth, "get_current_datetime") and not old_style:

        def current(remove_tzinfo: bool = True) -> dt.datetime:
            return naive if remove_tzinfo else aware

        with mock.patch.object(botocore.auth, "get_current_datetime", current):
            yield
        return

    class Clock(dt.datetime):
        @classmethod
        def utcnow(cls) -> Clock:
            return cls.combine(naive.date(), naive.time())

        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:
            moment = aware.astimezone(tz) if tz else aware.astimezone().replace(tzinfo=None)
            return cls.combine(moment.date(), moment.time(), moment.tzinfo)

    class Module:
        datetime = Clock

        def __getattr__(self, name: str) -> Any:
            return getattr(dt, name)

    with mock.patch.object(botocore.auth, "datetime", Module()):
        yield


def test_the_clock_patch_also_covers_older_botocore() -> None:
    when = dt.datetime(2031, 2, 3, 4, 5, 6)
    with frozen_botocore_clock(when, old_style=True):
        module = vars(botocore.auth)["datetime"]
        assert module.datetime.utcnow() == when
        assert module.datetime.now(dt.UTC) == when.replace(tzinfo=dt.UTC)
        assert module.timedelta is dt.timedelta


@functools.cache
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
    # A developer's ~/.aws files must not change what the client resolves.
    session.set_config_variable("config_file", "/nonexistent/aws-config")
    session.set_config_variable("credentials_file", "/nonexistent/aws-credentials")
    return session


@functools.cache
def botocore_client(
    region: str, endpoint: str | None, style: str, access: str, token: str | None
) -> Any:
    """A SigV4 S3 client pinned to the defaults the presigner mirrors, whatever the env says."""
    options: dict[str, Any] = {
        "signature_version": "s3v4",
        "s3": {"addressing_style": style, "us_east_1_regional_endpoint": "legacy"},
        "use_fips_endpoint": False,
        "use_dualstack_endpoint": False,
        "ignore_configured_endpoint_urls": True,
    }
    config = Config(**options)
    return _session().create_client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=config,
    )


def botocore_url(
    method: str, bucket: str, key: str, expires: int, when: dt.datetime, **client: Any
) -> str:
    with frozen_botocore_clock(when):
        url: str = botocore_client(**client).generate_presigned_url(
            ClientMethod="get_object" if method == "GET" else "put_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=expires,
        )
    # Guards the clock patch itself: a botocore that reads time elsewhere fails loudly here.
    assert f"X-Amz-Date={when:%Y%m%dT%H%M%SZ}&" in url
    return url


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "PUT"]),
    bucket=buckets,
    key=service_keys | any_keys | odd_keys,
    expires=st.integers(1, 7 * 24 * 3600),
    region=st.sampled_from(REGIONS),
    endpoint=st.sampled_from(ENDPOINTS),
    style=st.sampled_from(STYLES),
    access=st.sampled_from(ACCESS_KEYS),
    token=st.sampled_from(TOKENS),
    when=clocks,
    aware=st.booleans(),
)
@example(
    method="PUT",
    bucket="bkt",
    key="a b/ü?#+=&~!*'()%/",
    expires=3600,
    region="eu-west-1",
    endpoint=None,
    style="auto",
    access=ACCESS_KEYS[0],
    token=TOKENS[1],
    when=dt.datetime(2024, 5, 6, 7, 8, 9),
    aware=True,
)
@example(
    method="GET",
    bucket="my.bucket",
    key="../a/./b//c/..",
    expires=1,
    region="us-east-1",
    endpoint="http://127.0.0.1:5000",
    style="virtual",
    access=ACCESS_KEYS[1],
    token=TOKENS[2],
    when=dt.datetime(2099, 12, 31, 23, 59, 59),
    aware=False,
)
def test_presign_equals_botocore(
    method: str,
    bucket: str,
    key: str,
    expires: int,
    region: str,
    endpoint: str | None,
    style: AddressingStyle,
    access: str,
    token: str | None,
    when: dt.datetime,
    aware: bool,
) -> None:
    client = {"region": region, "endpoint": endpoint, "style": style, "access": access}
    expected = botocore_url(method, bucket, key, expires, when, token=token, **client)
    signer = SigV4Presigner(access, SECRET, token, region, endpoint, style)
    now = when.replace(tzinfo=dt.UTC) if aware else when
    assert signer.presign(method, bucket, key, expires, now=now) == expected
    # A second URL from the same signer reuses its caches and must still agree.
    assert signer.presign(method, bucket, key, expires, now=now) == expected


def test_the_wall_clock_is_used_when_no_time_is_given() -> None:
    signer = SigV4Presigner(ACCESS_KEYS[0], SECRET, None, "eu-west-1")
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    url = signer.presign("GET", "bkt", "users/a/b", 60)
    after = dt.datetime.now(dt.UTC)
    stamp = url.split("X-Amz-Date=")[1][:16]
    signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert before <= signed_at <= after
    assert url == signer.presign("GET", "bkt", "users/a/b", 60, now=signed_at)


@pytest.mark.parametrize(
    ("bucket", "key", "expires", "message"),
    [
        ("bkt", "k", 0, "expires_in"),
        ("bkt", "k", 7 * 24 * 3600 + 1, "expires_in"),
        ("bkt", "", 60, "empty"),
        ("bad/bucket", "k", 60, "bucket name"),
        ("bkt--x-s3", "k", 60, "bucket name"),
    ],
)
def test_refuses_what_s3_would_refuse(bucket: str, key: str, expires: int, message: str) -> None:
    signer = SigV4Presigner(ACCESS_KEYS[0], SECRET, None, "eu-west-1")
    with pytest.raises(ValueError, match=message):
        signer.presign("GET", bucket, key, expires)


@pytest.mark.parametrize(
    ("region", "style", "message"),
    [("eu-west-1", "sideways", "addressing style"), ("not a region", "auto", "region")],
)
def test_refuses_bad_configuration(region: str, style: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SigV4Presigner("ak", "sk", None, region, None, style)  # type: ignore[arg-type]
