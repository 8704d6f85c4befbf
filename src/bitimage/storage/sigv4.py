"""SigV4 query-string presigning of S3 GET/PUT URLs, byte for byte the URLs botocore makes.

botocore spends ~110 us per URL walking its endpoint rule set and request pipeline; a page of
100 thumbnails needs 100 URLs, so the constant parts (host, path prefix, credential scope,
signing key) are worked out once per bucket and per day, leaving one SHA-256, one HMAC and
some string joins per URL. The addressing rules mirror botocore's S3 endpoint rule set and
its presign tweaks for the plain (no FIPS, dual-stack, accelerate, ARN or S3 Express) case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from hashlib import _Hash

AddressingStyle = Literal["path", "virtual", "auto"]

MAX_EXPIRES = 7 * 24 * 3600  # S3 refuses presigned URLs valid for longer than a week
_HOST_LABEL = re.compile(r"^(?!-)[a-zA-Z\d-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$")
# botocore's partitions.json: the aws partition is the fallback for any other region name.
_PARTITIONS = (
    (re.compile(r"^cn-\w+-\d+$"), "aws-cn", "amazonaws.com.cn"),
    (re.compile(r"^us-gov-\w+-\d+$"), "aws-us-gov", "amazonaws.com"),
    (re.compile(r"^us-iso-\w+-\d+$"), "aws-iso", "c2s.ic.gov"),
    (re.compile(r"^us-isob-\w+-\d+$"), "aws-iso-b", "sc2s.sgov.gov"),
    (re.compile(r"^us-isof-\w+-\d+$"), "aws-iso-f", "csp.hci.ic.gov"),
    (re.compile(r"^eu-isoe-\w+-\d+$"), "aws-iso-e", "cloud.adc-e.uk"),
    (re.compile(r"^eusc-de-\w+-\d+$"), "aws-eusc", "amazonaws.eu"),
)


class _Target(NamedTuple):
    url_prefix: str  # scheme://authority/path-before-the-key, no trailing slash
    canonical_prefix: str  # the path part of url_prefix, as SigV4 canonicalises it
    host: str  # the Host header value that gets signed


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def _virtual_hostable(bucket: str, allow_dots: bool) -> bool:
    if len(bucket) < 3 or bucket.lower() != bucket or _IPV4.match(bucket):
        return False
    labels = bucket.split(".") if allow_dots else [bucket]
    return all(_HOST_LABEL.match(label) for label in labels)


def _host(scheme: str, netloc: str) -> str:
    parts = urlsplit(f"{scheme}://{netloc}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{parts.port}"
    return host


class SigV4Presigner:
    """Presigns S3 object URLs with AWS Signature Version 4 in the query string.

    Safe to share between threads: the caches only ever gain complete entries, and the cached
    HMAC states are copied before use, never updated.
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        session_token: str | None,
        region: str,
        endpoint_url: str | None = None,
        addressing_style: AddressingStyle = "auto",
    ) -> None:
        if addressing_style not in ("path", "virtual", "auto"):
            raise ValueError(f"unknown addressing style {addressing_style!r}")
        if not _HOST_LABEL.match(region):
            raise ValueError(f"invalid region name {region!r}")
        self.access_key, self.region = access_key, region
        self.endpoint_url, self.addressing_style = endpoint_url, addressing_style
        self._secret = f"AWS4{secret_key}".encode()
        self._token = (
            "" if session_token is None else f"&X-Amz-Security-Token={_enc(session_token)}"
        )
        self._partition, self._dns_suffix = next(
            ((name, suffix) for regex, name, suffix in _PARTITIONS if regex.match(region)),
            ("aws", "amazonaws.com"),
        )
        self._credential = (
            f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={_enc(access_key)}%2F"
        )
        self._targets: dict[str, _Target] = {}
        self._signing_keys: dict[tuple[str, str], tuple[_Hash, _Hash]] = {}
        self._stamp: tuple[int, str] = (-1, "")

    def presign(
        self, method: str, bucket: str, key: str, expires_in: int, now: datetime | None = None
    ) -> str:
        """A URL allowing `method` on s3://bucket/key for `expires_in` seconds from `now`."""
        if not 1 <= expires_in <= MAX_EXPIRES:
            raise ValueError(f"expires_in must be within 1..{MAX_EXPIRES} seconds")
        if not key:
            raise ValueError("an object key cannot be empty")
        target = self._targets.get(bucket) or self._target(bucket)
        stamp = self._timestamp(now)
        date, region = stamp[:8], self.region
        head = (
            f"{self._credential}{date}%2F{region}%2Fs3%2Faws4_request"
            f"&X-Amz-Date={stamp}&X-Amz-Expires={expires_in}"
        )
        path = quote(key, safe="/~")
        # The canonical query is sorted by name, so the token precedes SignedHeaders there;
        # botocore's URL keeps insertion order, with the token after it.
        canonical = (
            f"{method.upper()}\n{target.canonical_prefix}/{path}\n"
            f"{head}{self._token}&X-Amz-SignedHeaders=host\n"
            f"host:{target.host}\n\nhost\nUNSIGNED-PAYLOAD"
        )
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{date}/{region}/s3/aws4_request\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        inner, outer = self._signing_keys.get((date, region)) or self._signing_key(date, region)
        inner, outer = inner.copy(), outer.copy()
        inner.update(to_sign.encode())
        outer.update(inner.digest())
        signature = outer.hexdigest()
        return (
            f"{target.url_prefix}/{path}?{head}&X-Amz-SignedHeaders=host{self._token}"
            f"&X-Amz-Signature={signature}"
        )

    def _timestamp(self, now: datetime | None) -> str:
        if now is not None:
            if now.tzinfo is not None:
                now = now.astimezone(UTC)
            return now.strftime("%Y%m%dT%H%M%SZ")
        second = int(time.time())
        if self._stamp[0] != second:  # one strftime per second, not per URL
            self._stamp = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
        return self._stamp[1]

    def _signing_key(self, date: str, region: str) -> tuple[_Hash, _Hash]:
        key = self._secret
        for part in (date, region, "s3", "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        # RFC 2104 HMAC with the padded key's SHA-256 states kept: copying two states is a
        # third of the cost of hmac.new() (OpenSSL 3 looks the digest up on every call).
        block = key.ljust(64, b"\0")
        pads = (
            hashlib.sha256(bytes(byte ^ 0x36 for byte in block)),
            hashlib.sha256(bytes(byte ^ 0x5C for byte in block)),
        )
        if len(self._signing_keys) > 8:
            self._signing_keys.clear()
        self._signing_keys[(date, region)] = pads
        return pads

    def _target(self, bucket: str) -> _Target:
        if not re.fullmatch(r"[a-zA-Z0-9.\-_]{1,255}", bucket) or bucket.endswith("--x-s3"):
            raise ValueError(f"unsupported bucket name {bucket!r}")
        region, style, endpoint = self.region, self.addressing_style, self.endpoint_url
        # botocore forces path style for "auto" on a custom endpoint, and for "path" anywhere.
        path_style = style != "virtual" if endpoint else style == "path"
        # botocore's presign tweak sends "auto" URLs of label-like buckets to the global
        # endpoint (still signed for the client's region); us-east-1 is the "legacy" default.
        global_endpoint = region == "us-east-1" or (
            style == "auto" and self._partition == "aws" and bool(_HOST_LABEL.match(bucket))
        )
        if endpoint is None:
            regional = "" if global_endpoint else f"{region}."
            endpoint = f"https://s3.{regional}{self._dns_suffix}"
        parts = urlsplit(endpoint)
        scheme, netloc, raw_path, hostname = parts.scheme, parts.netloc, parts.path, parts.hostname
        base_path = quote(_remove_dot_segments(raw_path))
        base_path += "" if base_path.endswith("/") else "/"
        is_ip = bool(_IPV4.match(hostname or "")) or ":" in (hostname or "")
        if path_style:
            virtual = False
        elif _virtual_hostable(bucket, False):
            virtual = not is_ip
        else:  # dotted names only over plain http, where no TLS certificate has to match
            virtual = scheme == "http" and _virtual_hostable(bucket, True)
        if virtual:
            netloc, path = f"{bucket}.{netloc}", raw_path.removesuffix("/")
        else:
            path = f"{base_path}{_enc(bucket)}"
        target = _Target(f"{scheme}://{netloc}{path}", path, _host(scheme, netloc))
        self._targets[bucket] = target
        return target


def _remove_dot_segments(path: str) -> str:
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            out.append(segment)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and out else ""
    return lead + "/".join(out) + trail
