"""A real S3 endpoint for tests: moto's server on a free loopback port, spoken to over HTTP.

No in-process mock: requests go through botocore's (or httpx's) real HTTP stack, so
presigned URLs, ranges, timeouts and connection failures behave as they would on S3.

moto itself accepts any presigned URL (it checks neither the signature nor the expiry), so
the server's WSGI app is wrapped in `PresignedUrlCheck`, which verifies SigV4 query
signatures the way S3 does, recomputing them with botocore's own signer classes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
# Dummy credentials, and no developer files or endpoint overrides leaking into the tests.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
_CLEARED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_REGION")


@contextlib.contextmanager
def aws_test_env() -> Iterator[None]:
    """Set the dummy AWS environment for the duration, then restore the previous one."""
    names = [*TEST_ENV, *_CLEARED]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(TEST_ENV)
    for name in _CLEARED:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def client(endpoint_url: str, **config: Any) -> Any:
    """A plain boto3 S3 client on the test endpoint (path style, as the store uses there)."""
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
    )


def create_buckets(endpoint_url: str, buckets: Iterable[str]) -> None:
    """Create each bucket on the server."""
    s3 = client(endpoint_url)
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_SIGNED_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
}


class PresignedUrlCheck:
    """WSGI middleware: refuse presigned S3 requests that are expired or wrongly signed."""

    def __init__(self, app: Callable[..., Any], secrets: dict[str, str]) -> None:
        self.app = app
        self.secrets = secrets

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        # A browser's CORS preflight carries the URL but no credentials: S3 answers it from
        # the bucket's CORS rules alone, never checking the signature (which is for the PUT).
        preflight = environ["REQUEST_METHOD"] == "OPTIONS"
        if preflight or "X-Amz-Signature=" not in raw.partition("?")[2]:
            return self.app(environ, start_response)
        problem = self.problem(environ["REQUEST_METHOD"], environ.get("HTTP_HOST", ""), raw)
        if problem is None:
            return self.app(environ, start_response)
        code, message = problem
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ).encode()
        start_response("403 Forbidden", [("Content-Type", "application/xml")])
        return [body]

    def problem(self, method: str, host: str, raw_uri: str) -> tuple[str, str] | None:
        """None when the presigned request is valid, else S3's error code and message."""
        path, _, query = raw_uri.partition("?")
        pairs = [pair.partition("=") for pair in query.split("&")]
        params = {name: unquote(value) for name, _, value in pairs}
        if not params.keys() >= _SIGNED_PARAMS or params["X-Amz-SignedHeaders"] != "host":
            return "AccessDenied", "Query-string authentication requires the X-Amz-* parameters"
        access, date, region, service, _ = params["X-Amz-Credential"].split("/")
        secret = self.secrets.get(access)
        if secret is None:
            return "InvalidAccessKeyId", "The AWS Access Key Id does not exist in our records"
        signed_at = dt.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        expires_at = signed_at.replace(tzinfo=dt.UTC) + dt.timedelta(
            seconds=int(params["X-Amz-Expires"])
        )
        if expires_at < dt.datetime.now(dt.UTC):
            return "AccessDenied", "Request has expired"
        unsigned = "&".join(f"{n}{eq}{v}" for n, eq, v in pairs if n != "X-Amz-Signature")
        token = params.get("X-Amz-Security-Token")
        auth = S3SigV4QueryAuth(Credentials(access, secret, token), service, region)
        request = AWSRequest(method=method, url=f"http://{host}{path}?{unsigned}")
        request.headers["host"] = host
        request.context["timestamp"] = params["X-Amz-Date"]
        assert date == params["X-Amz-Date"][:8]
        string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
        expected = auth.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
            return "SignatureDoesNotMatch", "The request signature we calculated does not match"
        return None


@contextlib.contextmanager
def moto_s3(buckets: Iterable[str] = ()) -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1 and a free port; yield its endpoint URL.

    The dummy credentials are in the environment while it runs; the buckets exist.
    """
    with aws_test_env():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            wsgi = server._server  # werkzeug's server: it looks its app up on every request
            assert wsgi is not None
            secrets = {TEST_ENV["AWS_ACCESS_KEY_ID"]: TEST_ENV["AWS_SECRET_ACCESS_KEY"]}
            wsgi.app = PresignedUrlCheck(wsgi.app, secrets)
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            create_buckets(endpoint, buckets)
            yield endpoint
        finally:
            server.stop()
