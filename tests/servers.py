"""A real `bitimage` server process for end-to-end tests: free port, clean env, log, health wait."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any BITIMAGE_* variable, plus cheap hashing and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
    env["BITIMAGE_ARGON2_MEMORY_KIB"] = "8192"
    env.update(settings)
    return env


@dataclass
class Server:
    """A running server: where it listens and what it printed so far."""

    base: str
    port: int
    log_path: Path

    def output(self) -> str:
        """Everything the server printed (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> None:
        """Until the server has printed `text` `count` times (a process started, say)."""
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"the server never printed {text!r} {count} times:\n{self.output()}")
            time.sleep(0.05)


@contextmanager
def running(
    args: list[str], env: dict[str, str], log_path: Path, port: int | None = None
) -> Iterator[Server]:
    """Run `python -m bitimage.cli ARGS --port P` until /healthz answers; stop it afterwards.

    On leaving, the server gets SIGTERM and must shut down cleanly with no traceback printed.
    """
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "bitimage.cli", *args, "--port", str(port)]
    server = Server(f"http://127.0.0.1:{port}", port, log_path)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`bitimage {' '.join(args)}` did not start:\n{server.output()}")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # uvicorn shuts down cleanly on SIGTERM, then re-raises the signal for the parent to see.
    assert process.returncode in (0, -15), server.output()
    assert "Traceback" not in server.output(), server.output()
