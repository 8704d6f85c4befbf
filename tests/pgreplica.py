"""A PostgreSQL primary and a real streaming replica for one test, on free loopback ports.

The primary is a fresh cluster (initdb) that allows replication connections; the replica is
its `pg_basebackup -R`, started as a hot standby. Both run as the `postgres` user when the
tests run as root (PostgreSQL refuses root), from a folder that user owns; both are stopped
and their folders removed afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.servers import free_port


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:  # a missing tool fails the run; it is never skipped
        pytest.fail(f"{name} (PostgreSQL server binaries) is not installed")
    return found


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command[:2])} failed: {done.stderr or done.stdout}")


@dataclass
class Pair:
    """Where the primary and its replica listen."""

    primary: str
    replica: str

    def wait_for_replay(self, timeout: float = 30.0) -> None:
        """Return once the replica has replayed everything the primary wrote so far."""
        primary = create_engine(_driver(self.primary))
        replica = create_engine(_driver(self.replica))
        try:
            with primary.connect() as conn:
                target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
            deadline = time.monotonic() + timeout
            while True:
                with replica.connect() as conn:
                    behind = conn.execute(
                        text("SELECT pg_wal_lsn_diff(:t, pg_last_wal_replay_lsn()) > 0"),
                        {"t": target},
                    ).scalar_one()
                if not behind:
                    return
                if time.monotonic() > deadline:
                    pytest.fail("the replica did not catch up with the primary")
                time.sleep(0.05)
        finally:
            primary.dispose()
            replica.dispose()

    def replay(self, paused: bool) -> None:
        """Pause or resume the replica's replay (a stand-in for replication lag)."""
        engine = create_engine(_driver(self.replica), isolation_level="AUTOCOMMIT")
        verb = "pause" if paused else "resume"
        try:
            with engine.connect() as conn:
                conn.execute(text(f"SELECT pg_wal_replay_{verb}()"))
        finally:
            engine.dispose()


def _driver(url: str) -> str:
    return "postgresql+psycopg://" + url.removeprefix("postgresql://")


@contextlib.contextmanager
def primary_and_replica() -> Iterator[Pair]:
    """Start both; yield their URLs (database `postgres`, user `postgres`, trusted)."""
    root = Path(tempfile.mkdtemp(prefix="bitimage-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary_dir, replica_dir = root / "primary", root / "replica"
    primary_port, replica_port = free_port(), free_port()
    started: list[Path] = []
    try:
        _run([_bin("initdb"), "-D", str(primary_dir), "-U", "postgres", "--auth=trust", "-N"])
        with (primary_dir / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        options = f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={root}"
        for folder, port in ((primary_dir, primary_port), (replica_dir, replica_port)):
            if folder == replica_dir:
                _run(
                    [_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port),
                     "-U", "postgres", "-D", str(replica_dir), "-R", "-X", "stream"]
                )  # fmt: skip
            _run(
                [_bin("pg_ctl"), "-D", str(folder), "-l", str(root / f"{folder.name}.log"),
                 "-o", f"{options} -p {port}", "-w", "start"]
            )  # fmt: skip
            started.append(folder)
        yield Pair(
            f"postgresql://postgres@127.0.0.1:{primary_port}/postgres",
            f"postgresql://postgres@127.0.0.1:{replica_port}/postgres",
        )
    finally:
        for folder in reversed(started):
            _run([_bin("pg_ctl"), "-D", str(folder), "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
