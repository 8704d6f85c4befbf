"""On PostgreSQL `serve` refuses an out-of-date schema in one line; `bitimage migrate` fixes it;
`bitimage migrate --to` steps back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

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


def test_migrate_to_steps_back_and_refuses_an_unknown_revision(tmp_path: Path) -> None:
    # The README's way to turn pgvector on for a server that got it after migrating:
    # back to 0012 (the HNSW table goes), then up again (0013 builds it, copying the vectors).
    with fresh_postgres_database() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
        env.update(BITIMAGE_DATABASE_URL=url, BITIMAGE_DATA_DIR=str(tmp_path))
        assert _bitimage("migrate", env=env).returncode == 0

        def hnsw_table() -> bool:
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            try:
                with engine.connect() as connection:
                    found = connection.execute(text("SELECT to_regclass('image_vectors_hnsw')"))
                    return found.scalar() is not None
            finally:
                engine.dispose()

        assert hnsw_table()
        back = _bitimage("migrate", "--to", "0012", env=env)
        assert back.returncode == 0, back.stderr.decode()
        assert back.stdout.decode().strip() == "database schema is at 0012"
        assert not hnsw_table()
        unknown = _bitimage("migrate", "--to", "9999", env=env)
        assert unknown.returncode == 2
        (line,) = unknown.stderr.decode().strip().splitlines()
        assert line.startswith("bitimage: cannot migrate to 9999:")
        assert _bitimage("migrate", env=env).returncode == 0
        assert hnsw_table()
