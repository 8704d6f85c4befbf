"""One settings object for the service, read from BITIMAGE_* variables, validated at start."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "BITIMAGE_"
MIB = 1024 * 1024


def describe_size(size: int) -> str:
    """A byte count for messages: "20.0 MiB", or "1000 bytes" below 0.1 MiB."""
    return f"{size / MIB:.1f} MiB" if size >= MIB // 10 else f"{size} bytes"


ANALYSERS = (
    "classifier",
    "colours",
    "faces",
    "metadata",
    "people",
    "text",
)  # the names BITIMAGE_ANALYSERS may list

# Variables read by other tools (the test suite, the CLI client) that share our prefix.
_FOREIGN_VARIABLES = {"BITIMAGE_TEST_POSTGRES_URL", "BITIMAGE_SERVER", "BITIMAGE_TOKEN"}


class SettingsError(ValueError):
    """A setting is unknown, malformed or unsafe; the message is one line for the operator."""


class Settings(BaseSettings):
    """Every knob of Bit-image; each field is also the env var BITIMAGE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    data_dir: Path = Path("./bitimage-data")
    database_url: str | None = None
    # A PostgreSQL streaming replica (hot standby) for searches; writes stay on the primary.
    database_read_url: str | None = None
    storage_url: str | None = None
    queue_url: str = "db://"
    s3_staging_bucket: str | None = None
    s3_endpoint_url: str | None = None
    # The S3 address clients reach, when it differs from the one the server uses (compose:
    # the server talks to http://minio:9000, a browser or `bitimage upload` cannot).
    s3_public_endpoint_url: str | None = None
    processes: int = Field(default=1, ge=1, le=64)
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    job_max_attempts: int = Field(default=5, ge=1)
    job_ttr_seconds: int = Field(default=300, ge=1)
    analysers: str = "classifier,faces,colours,metadata,text"
    moderation_threshold: float = Field(default=0.6, gt=0, le=1)
    analysis_threads: int = Field(default=1, ge=1, le=16)
    model_cache_dir: Path | None = None
    auto_migrate: bool | None = None
    run_worker: bool = True

    storage_secret: str | None = None
    jwks_url: str | None = None
    # The built-in CAS's signing keys; API servers that do not share a data folder share this.
    cas_key_file: Path | None = None
    jwt_issuer: str | None = None
    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8 * 1024)
    login_attempts_per_minute: int = Field(default=10, ge=1)
    # Signup costs an argon2id hash: bounded per client address (an IPv6 client: its /64).
    signup_attempts_per_minute: int = Field(default=10, ge=1)
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (IPs, CIDRs or "*"); none by
    # default, so no client can pick the address the rate limits count it under.
    forwarded_allow_ips: str = ""
    # Operating (issue 16): GET /metrics (Prometheus text), its bearer token, JSON log lines.
    metrics: bool = False
    metrics_token: str | None = Field(default=None, min_length=16)
    log_format: Literal["text", "json"] = "text"

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address, a network or *") from None
        return "*" if "*" in items else ",".join(items)

    max_image_bytes: int = Field(default=20 * MIB, ge=1)
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    # Request bodies of every route but the local store's PUT; larger ones answer 413 unread.
    max_json_bytes: int = Field(default=MIB, ge=1024)
    upload_url_ttl_seconds: int = Field(default=3600, ge=10)
    view_url_ttl_seconds: int = Field(default=3600, ge=10)
    notify_batch_max: int = Field(default=5, ge=1)
    upload_urls_max: int = Field(default=1000, ge=1)
    default_image_upload_limit: int | None = Field(default=None, ge=0)
    sweep_interval_seconds: float = Field(default=60.0, gt=0)
    # How often a worker looks whether the vector index needs training (search/vectors_upkeep.py):
    # a pass that finds nothing to do costs one count of the index's rows.
    vector_upkeep_interval_seconds: float = Field(default=300.0, gt=0)
    # How often a worker looks whether SQLite's planner statistics are stale (db/statistics.py):
    # a pass that finds nothing to do costs one count of the images.
    statistics_interval_seconds: float = Field(default=600.0, gt=0)
    # Below this many vectors the index is not trained: a query scans its scope's 8-bit codes,
    # which is as fast as probing lists at that size (bench_similar's untrained figures).
    vector_index_train_from: int = Field(default=2_048, ge=1)
    # Near duplicates (issue 15): the largest dHash Hamming distance that still counts, out of
    # 64 bits. 10 takes resized, re-encoded and lightly cropped copies; different photos
    # measured 18 or more apart (bench/bench_duplicates.py). 12 at most: images/perceptual.py.
    near_duplicate_distance: int = Field(default=10, ge=0, le=12)

    # Upload grants (issue 11): open URLs per user without an image limit, and how long a
    # notify that died keeps its images claimed before another notify may take them over.
    max_open_uploads: int = Field(default=10_000, ge=1)
    notify_claim_seconds: float = Field(default=300.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("database_read_url")
    @classmethod
    def _replica_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("postgresql"):
            raise ValueError("must start with postgresql:// (a streaming replica)")
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme == "file" and parts.path:
            return value
        if parts.scheme == "s3" and parts.netloc and parts.path in ("", "/"):
            return value
        raise ValueError("must be file:///path or s3://bucket")

    @field_validator("queue_url")
    @classmethod
    def _queue_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "db" and not parts.netloc:
            return value
        if parts.scheme == "beanstalk" and parts.hostname:
            try:
                parts.port  # noqa: B018 - parsing the port is the check
            except ValueError:
                raise ValueError("has a bad port") from None
            if parts.path.strip("/") and "/" in parts.path.strip("/"):
                raise ValueError("must be beanstalk://host:port/TUBE")
            return value
        raise ValueError("must be db:// or beanstalk://host:port/TUBE")

    @field_validator("analysers")
    @classmethod
    def _analysers(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(ANALYSERS))
        if unknown:
            raise ValueError(f"unknown analyser {unknown[0]!r}; known: {', '.join(ANALYSERS)}")
        return ",".join(dict.fromkeys(names))

    @field_validator("s3_endpoint_url", "s3_public_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator("public_url", "jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("must be an http(s):// URL")
            return value.rstrip("/")
        return value

    @model_validator(mode="after")
    def _safe_combination(self) -> Settings:
        if (self.jwks_url is None) != (self.jwt_issuer is None):
            raise ValueError("BITIMAGE_JWKS_URL and BITIMAGE_JWT_ISSUER go together")
        primary = self.database_url or ""
        if self.database_read_url is not None and not primary.startswith("postgresql"):
            raise ValueError(
                "BITIMAGE_DATABASE_READ_URL needs a postgresql:// BITIMAGE_DATABASE_URL"
            )
        local_store = not (self.storage_url or "").startswith("s3://")
        if local_store and self.s3_public_endpoint_url is not None:
            raise ValueError("BITIMAGE_S3_PUBLIC_ENDPOINT_URL needs an s3:// BITIMAGE_STORAGE_URL")
        if self.environment == "production" and local_store and self.storage_secret is None:
            raise ValueError(
                "production with the local store needs BITIMAGE_STORAGE_SECRET (32+ characters)"
            )
        if self.storage_secret is not None and len(self.storage_secret) < 32:
            raise ValueError("BITIMAGE_STORAGE_SECRET must be at least 32 characters")
        return self

    @property
    def base_url(self) -> str:
        """The URL clients use to reach this server (signed URLs point here)."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def migrate_on_start(self) -> bool:
        """Migrate at start: by default on SQLite only (PostgreSQL: `bitimage migrate`)."""
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'bitimage.db'}"

    @property
    def resolved_storage_url(self) -> str:
        """The object store URL, defaulting to a folder in the data folder."""
        return self.storage_url or f"file://{self.data_dir.resolve() / 'objects'}"

    @property
    def resolved_cas_key_file(self) -> Path:
        """The CAS key file, defaulting to one in the data folder's secrets."""
        return self.cas_key_file or self.data_dir / "secrets" / "cas_ed25519.pem"

    @property
    def issuer(self) -> str:
        """The `iss` claim the API trusts: an external issuer, or the built-in CAS."""
        return self.jwt_issuer or f"{self.base_url}/cas"


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment plus overrides; raise SettingsError in one line."""
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(
        key
        for key in os.environ
        if key.startswith(ENV_PREFIX) and key not in known and key not in _FOREIGN_VARIABLES
    )
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]} (see the README's configuration table)")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        name = f"{ENV_PREFIX}{where.upper()}" if where else "settings"
        raise SettingsError(f"invalid {name}: {first['msg']}") from None
