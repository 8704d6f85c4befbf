"""The bucket CORS rule a browser needs to PUT uploads and GET images straight from S3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bitimage.storage.s3 import S3Store, _translated

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CORSRuleTypeDef


def browser_cors_rule(origins: Sequence[str]) -> CORSRuleTypeDef:
    """PUT (uploads) and GET/HEAD (views) from the web application's origins; ETag readable."""
    return {
        "ID": "bitimage-web",
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["GET", "HEAD", "PUT"],
        # A browser PUT sends the file's Content-Type; the signature covers only Host.
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }


def set_browser_cors(store: S3Store, origins: Sequence[str]) -> list[str]:
    """Put the rule on the bucket and the staging bucket (replacing their CORS); their names."""
    buckets = [store.bucket] + ([store.staging_bucket] if store.staging_bucket else [])
    rule = browser_cors_rule(origins)
    for bucket in buckets:
        with _translated("PutBucketCors", bucket):
            store.client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    return buckets
