"""Start-up that says what is wrong: a busy port is one line and exit 2; "listening" is true."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import clean_env, free_port


@pytest.mark.parametrize("command", ["serve", "cas"])
def test_a_busy_port_is_one_line_naming_it_and_how_to_change_it(
    command: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = subprocess.run(
            [sys.executable, "-m", "bitimage.cli", command, "--port", str(port),
             "--data-dir", str(tmp_path / "data")],
            env=clean_env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert answer.returncode == 2
    assert answer.stdout == ""
    assert answer.stderr == (
        f"bitimage: port {port} on 127.0.0.1 is already in use by another program; "
        "choose another with --port or BITIMAGE_PORT\n"
    )
    assert not (tmp_path / "data").exists()  # nothing was prepared for a server that cannot run


def test_listening_is_printed_once_the_socket_accepts_connections(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "bitimage.cli", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "data")],
        env=clean_env(BITIMAGE_RUN_WORKER="false"), stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith(f"Bit-image listening on http://127.0.0.1:{port} ")
            # At the moment the line is printed the port takes connections (queued until the
            # server accepts them): a client that read the line is never refused.
            with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert client.recv(12) == b"HTTP/1.1 200"
        finally:
            process.terminate()
        assert process.wait(timeout=30) in (0, -15)
