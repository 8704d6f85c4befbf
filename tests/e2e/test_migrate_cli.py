"""On PostgreSQL `serve` refuses an out-of-date schema in one line; `bitimage migrate` fixes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.databases import fresh_postgres_database


def _bitimage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bitimage.cli", *args],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_serve_refuses_an_unmigrated_database_until_migrate(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
        env.update(BITIMAGE_DATABASE_URL=url, BITIMAGE_DATA_DIR=str(tmp_path))
        refused = _bitimage("serve", "--port", "1", env=env)
        assert refused.returncode == 2
        lines = refused.stderr.decode().strip().splitlines()
        assert len(lines) == 1, lines
        assert "out of date" in lines[0]
        assert "bitimage migrate" in lines[0]

        migrated = _bitimage("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr.decode()
        assert "up to date" in migrated.stdout.decode()
        again = _bitimage("migrate", env=env)  # idempotent
        assert again.returncode == 0, again.stderr.decode()
