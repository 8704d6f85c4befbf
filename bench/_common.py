"""Shared helpers for the benchmarks: a real server on a free loopback port, an account."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PASSWORD = "benchmark password"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, **env_overrides: str) -> tuple[subprocess.Popen[bytes], str]:
    """`bitimage serve` on a free port; returns the process and its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
    env.update({"BITIMAGE_ARGON2_MEMORY_KIB": "8192", **env_overrides})
    command = [sys.executable, "-m", "bitimage.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and wait for it."""
    process.terminate()
    process.wait(timeout=30)


def account(base: str, email: str = "bench@example.com") -> dict[str, str]:
    """Sign up, log in, create the account; return the Authorization header."""
    creds = {"email": email, "password": PASSWORD}
    httpx.post(f"{base}/cas/signup", json=creds).raise_for_status()
    token = httpx.post(f"{base}/cas/loginSubmit", json=creds).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    httpx.post(f"{base}/api/v1/users", headers=headers).raise_for_status()
    return headers
