"""Logs as JSON lines (BITIMAGE_LOG_FORMAT=json) and the metrics folder of several processes."""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bitimage.config import Settings
from bitimage.metrics import MULTIPROCESS_DIR

JSON_FORMATTER = f"{__name__}.JsonFormatter"
# uvicorn's access records carry these as their arguments, in this order.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the access fields)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON; an exception goes in `exception`, as text."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            entry.update(zip(_ACCESS_FIELDS, args, strict=True))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def use_json(config: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's logging configuration with every formatter JSON, the root logger included."""
    config["formatters"] = {name: {"()": JSON_FORMATTER} for name in config["formatters"]}
    config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config


def configure_logging(log_format: str, handler: logging.Handler) -> None:
    """Send INFO and above of every logger to `handler`, as text or as JSON lines."""
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def metrics_environment(settings: Settings) -> dict[str, str]:
    """PROMETHEUS_MULTIPROC_DIR for the server processes about to start, emptied first.

    An operator's own folder (already in the environment: shared with `bitimage worker`
    processes on the host, say) is left as it is; otherwise `<data-dir>/metrics`.
    """
    if not settings.metrics or os.environ.get(MULTIPROCESS_DIR):
        return {}
    folder = Path(settings.data_dir.resolve(), "metrics")
    shutil.rmtree(folder, ignore_errors=True)  # the counts of a previous run's processes
    folder.mkdir(mode=0o700, parents=True)
    return {MULTIPROCESS_DIR: str(folder)}
