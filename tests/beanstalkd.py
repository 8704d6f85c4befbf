"""A real beanstalkd for tests: its own process on 127.0.0.1 and a free port, stoppable."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pytest

INSTALL_HINT = "beanstalkd is not installed: apt-get install -y beanstalkd"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Beanstalkd:
    """One beanstalkd process; stop() and start() again keep its port (and binlog, if any)."""

    def __init__(self, binlog_dir: Path | None = None) -> None:
        binary = shutil.which("beanstalkd")
        if binary is None:
            pytest.fail(INSTALL_HINT)
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = free_port()
        self.binlog_dir = binlog_dir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its beanstalk:// URL for the default tube of the tests."""
        return f"beanstalk://{self.host}:{self.port}/image_messages"

    def start(self, timeout: float = 10.0) -> None:
        """Start the process and wait until it accepts connections."""
        assert self._process is None, "already running"
        command = [self.binary, "-l", self.host, "-p", str(self.port)]
        if self.binlog_dir is not None:
            self.binlog_dir.mkdir(parents=True, exist_ok=True)
            command += ["-b", str(self.binlog_dir)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                _, err = self._process.communicate()
                self._process = None
                pytest.fail(f"beanstalkd exited at start: {err.decode(errors='replace')}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"beanstalkd did not listen on {self.port} within {timeout} s")
                time.sleep(0.01)

    def stop(self, kill: bool = False) -> None:
        """End the process (SIGKILL with kill=True, as a crash) and wait for it."""
        if self._process is None:
            return
        process, self._process = self._process, None
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()

    def __enter__(self) -> Beanstalkd:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
