"""What the server commands hand to uvicorn: trusted proxies, and an access log without secrets."""

from __future__ import annotations

import copy
import errno
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
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
BACKLOG = 2048  # uvicorn's default


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


class PortUnavailable(Exception):
    """The server cannot listen where the settings say; the message names the way out."""


def bind_socket(settings: Settings) -> socket.socket:
    """A socket bound to the settings' host and port and listening, or PortUnavailable.

    Bound here, before the app is built, so that a busy port is one line at once (not
    uvicorn's Errno after "listening" was printed), and "listening" is true when printed:
    connections wait in the backlog until the server accepts them.
    """
    host, port = settings.host, settings.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise PortUnavailable(_why(exc, host, port)) from None
    sock.set_inheritable(True)  # the worker processes of --processes serve it too
    return sock


def _why(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use by another program; "
            "choose another with --port or BITIMAGE_PORT"
        )
    if exc.errno == errno.EACCES:
        return (
            f"not allowed to listen on port {port} (ports below 1024 need privileges); "
            "choose another with --port or BITIMAGE_PORT"
        )
    if exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME):
        return f"{host} is not an address of this machine; set --host or BITIMAGE_HOST"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}; see --host and --port"


def serve_on(sock: socket.socket, target: Any, settings: Settings, *, workers: int = 1) -> None:
    """Run uvicorn on the bound socket: `target` is an app, or with workers > 1 the import
    string of an app factory each worker process calls."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        target, factory=workers > 1, workers=workers, **uvicorn_options(settings)
    )
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


class WorkerEndpoint:
    """GET /metrics and /healthz of a `bitimage worker`, on BITIMAGE_HOST:BITIMAGE_PORT.

    A worker serves no API; with BITIMAGE_METRICS on, this small server in a thread of its
    own lets Prometheus scrape the jobs and analyses counted in that process.
    """

    def __init__(self, settings: Settings, stats: Callable[[], Any] | None) -> None:
        import uvicorn  # the server commands' dependency, loaded only by them
        from fastapi import FastAPI

        from bitimage.monitoring import metrics_router

        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.include_router(metrics_router(settings.metrics_token, stats))

        @app.get("/healthz")
        def healthz() -> dict[str, str]:
            return {"status": "ok"}

        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=log_config(settings.log_format),
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="bitimage-metrics")
        self.where = f"http://{settings.host}:{settings.port}"

    def start(self) -> None:
        """Serve, or raise OSError when the address cannot be bound."""
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise OSError(f"cannot serve the worker's metrics on {self.where} (port in use?)")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
