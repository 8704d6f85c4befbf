"""What the server commands hand to uvicorn: trusted proxies, and an access log without secrets."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from bitimage.cli.observe import use_json
from bitimage.config import Settings

# Query parameters that let whoever reads them use a signed URL (or name the key behind one).
_SECRET_PARAMETER = re.compile(
    r"([?&](?:signature|x-amz-signature|x-amz-security-token|x-amz-credential)=)[^&#]*",
    re.IGNORECASE,
)
REDACTED = "REDACTED"


def redact_query(target: str) -> str:
    """`target` (a path with its query) with every signature-like parameter's value hidden."""
    return _SECRET_PARAMETER.sub(rf"\g<1>{REDACTED}", target) if "?" in target else target


class RedactSignatures(logging.Filter):
    """Hides signed URLs' signatures in access log lines: a log reader could use them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments (uvicorn passes the request target as one of them)."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def log_config(log_format: str = "text") -> dict[str, Any]:
    """uvicorn's own logging configuration, with the redacting filter on its access handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_signatures": {"()": f"{__name__}.RedactSignatures"}}
    config["handlers"]["access"]["filters"] = ["redact_signatures"]
    return use_json(config) if log_format == "json" else config


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run: where to listen, whom to trust, how to log."""
    trusted = settings.forwarded_allow_ips
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": log_config(settings.log_format),
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise, so any local
        # client (or a proxy that passes the header through) could choose its rate-limit key.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
    }
