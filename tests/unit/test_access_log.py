"""The access log filter hides signatures of signed URLs and nothing else."""

from __future__ import annotations

import logging

from bitimage.cli.serving import RedactSignatures, log_config, redact_query, uvicorn_options
from bitimage.config import load_settings


def test_signatures_are_hidden() -> None:
    local = "/storage/users/u/i?expires=1796582162&signature=93511e84f70f"
    assert redact_query(local) == "/storage/users/u/i?expires=1796582162&signature=REDACTED"
    s3 = "/b/k?X-Amz-Credential=AKIA%2F&X-Amz-Date=20261206T000000Z&X-Amz-Signature=ab12#x"
    assert redact_query(s3) == (
        "/b/k?X-Amz-Credential=REDACTED&X-Amz-Date=20261206T000000Z&X-Amz-Signature=REDACTED#x"
    )
    for kept in (
        "/api/v1/images/private/summary?name=signature",
        "/signature=x",
        "/a?mysignature=1",
    ):
        assert redact_query(kept) == kept


def test_the_filter_rewrites_uvicorns_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "PUT", "/storage/k?expires=1&signature=abc", "1.1", 200),
        None,
    )
    assert RedactSignatures().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5000 - "PUT /storage/k?expires=1&signature=REDACTED HTTP/1.1" 200'
    )


def test_uvicorn_gets_the_filter_and_no_trusted_proxy_by_default() -> None:
    options = uvicorn_options(load_settings())
    assert options["proxy_headers"] is False
    assert options["log_config"]["handlers"]["access"]["filters"] == ["redact_signatures"]
    assert log_config() is not log_config()  # a copy each time: uvicorn's own stays as it is
    trusted = uvicorn_options(load_settings(forwarded_allow_ips="10.0.0.0/8"))
    assert (trusted["proxy_headers"], trusted["forwarded_allow_ips"]) == (True, "10.0.0.0/8")
