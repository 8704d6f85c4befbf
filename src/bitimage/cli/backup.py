"""`bitimage backup DEST` and `bitimage restore SRC` for the embedded defaults.

A backup is a folder: `bitimage.db` (a SQLite online-backup snapshot, consistent while the
server writes), `objects/` (the local store's files), `secrets/` (the local store's URL key and
the CAS signing keys) and `manifest.json`, written last: a folder without it is incomplete.

Objects are copied twice around the snapshot: once before (the bulk), once after (what was
written meanwhile). Objects are written once under their key and only ever removed, so every
image the snapshot holds has its bytes in the copy, unless it was deleted between the
snapshot and the second pass; those are counted in the manifest (`missing_objects`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from bitimage.cli import starting
from bitimage.config import Settings

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "bitimage.db"
_SKIPPED = {".tmp"}  # uploads being received: never a stored object
_STORAGE_KEY = "storage.key"
_CAS_KEYS = "cas_ed25519.pem"


class BackupError(Exception):
    """The backup or restore cannot go on; the message is one line for the operator."""


@dataclass
class BackupReport:
    """What a backup holds (also its manifest)."""

    format: int = FORMAT
    created_at: str = ""
    images: int = 0
    objects: int = 0
    object_bytes: int = 0
    missing_objects: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def embedded_paths(settings: Settings) -> tuple[Path, Path]:
    """The SQLite file and the objects folder, or BackupError for other backends."""
    database, storage = settings.resolved_database_url, settings.resolved_storage_url
    if not database.startswith("sqlite:///") or not storage.startswith("file://"):
        raise BackupError(
            "backup and restore cover the embedded defaults (SQLite and the local store); "
            "for PostgreSQL and S3 see the README (pg_dump, bucket versioning)"
        )
    return Path(database.removeprefix("sqlite:///")), Path(urlsplit(storage).path)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def copy_tree(source: Path, target: Path) -> tuple[int, int]:
    """Copy new or changed files (xattrs kept: they hold the MD5s); return (files, bytes)."""
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [name for name in dirnames if name not in _SKIPPED]
        relative = Path(dirpath).relative_to(source)
        _private_dir(target / relative)
        for name in filenames:
            origin, copy = Path(dirpath, name), target / relative / name
            try:
                info = origin.stat()
                copied = copy.stat() if copy.exists() else None
                if copied is None or (copied.st_size, copied.st_mtime_ns) != (
                    info.st_size,
                    info.st_mtime_ns,
                ):
                    shutil.copy2(origin, copy)  # keeps the mtime: the next pass skips it
            except FileNotFoundError:
                continue  # removed while we walked: a purge, or a staged upload confirmed
            files, size = files + 1, size + info.st_size
    return files, size


def _snapshot(database: Path, target: Path) -> None:
    """SQLite's online backup: one consistent copy, while other connections keep writing."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # every page in one step: a multi-step copy restarts on each write
    finally:
        copy.close()
        source.close()


def _image_keys(database: Path) -> list[str]:
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute("SELECT storage_key FROM images")]
    finally:
        connection.close()


def _copy_secret(source: Path, target: Path) -> bool:
    if not source.is_file():
        return False
    _private_dir(target.parent)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source.read_bytes())
    return True


def backup(settings: Settings, destination: Path) -> BackupReport:
    """Write a backup of the embedded defaults into `destination` (absent or empty)."""
    database, objects = embedded_paths(settings)
    if not database.is_file():
        raise BackupError(f"no database at {database}: nothing to back up")
    if destination.exists() and any(destination.iterdir()):
        raise BackupError(f"{destination} is not empty; give a new folder")
    _private_dir(destination)
    report = BackupReport(created_at=datetime.now(UTC).isoformat(timespec="seconds"))
    copy_tree(objects, destination / "objects")
    _snapshot(database, destination / DATABASE)
    report.objects, report.object_bytes = copy_tree(objects, destination / "objects")
    keys = _image_keys(destination / DATABASE)
    report.images = len(keys)
    report.missing_objects = [key for key in keys if not (destination / "objects" / key).is_file()]
    secrets = destination / "secrets"
    if settings.storage_secret is None:
        stored = settings.data_dir / "secrets" / _STORAGE_KEY
        if _copy_secret(stored, secrets / _STORAGE_KEY):
            report.secrets.append(_STORAGE_KEY)
    if _copy_secret(settings.resolved_cas_key_file, secrets / _CAS_KEYS):
        report.secrets.append(_CAS_KEYS)
    manifest = json.dumps(asdict(report), indent=2)
    (destination / MANIFEST).write_text(manifest)  # last: its presence marks a whole backup
    return report


def _restore_secret(source: Path, target: Path, notes: list[str]) -> None:
    if not source.is_file():
        return
    if target.exists():
        if target.read_bytes() != source.read_bytes():
            notes.append(f"kept the existing {target} (the backup's differs)")
        return
    _copy_secret(source, target)


def restore(settings: Settings, source: Path) -> tuple[dict[str, Any], list[str]]:
    """Restore a backup into the settings' (new) data folder; return its manifest and notes."""
    database, objects = embedded_paths(settings)
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BackupError(f"{source} is not a complete backup (no readable {MANIFEST})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of format {manifest.get('format')}, not {FORMAT}")
    if database.exists():
        raise BackupError(f"a database exists at {database}; restore into a new data folder")
    held = [p for p in objects.rglob("*") if p.is_file()] if objects.is_dir() else []
    if held:
        raise BackupError(f"{objects} holds objects already; restore into a new data folder")
    _private_dir(settings.data_dir)
    _private_dir(database.parent)
    copy_tree(source / "objects", objects)
    notes: list[str] = []
    if settings.storage_secret is None:
        stored = settings.data_dir / "secrets" / _STORAGE_KEY
        _restore_secret(source / "secrets" / _STORAGE_KEY, stored, notes)
    _restore_secret(source / "secrets" / _CAS_KEYS, settings.resolved_cas_key_file, notes)
    # The database last, through a temporary name: a restore cut short leaves no database,
    # so it can simply be run again.
    partial = database.with_name(f".{database.name}.{os.getpid()}.{threading.get_ident()}")
    _snapshot(source / DATABASE, partial)
    try:
        os.link(partial, database)  # never replaces: a second restore at once loses here
    except FileExistsError:
        raise BackupError(
            f"a database exists at {database}; restore into a new data folder"
        ) from None
    finally:
        partial.unlink()
    return manifest, notes


def register(app: typer.Typer) -> None:
    """Add `backup` and `restore` to the `bitimage` command."""

    @app.command("backup")
    def backup_command(
        destination: Annotated[Path, typer.Argument(metavar="DEST", help="a new folder")],
        data_dir: starting.DataOpt = None,
    ) -> None:
        """Back up the embedded defaults (database, objects, secrets) while the server runs."""

        settings = starting.settings_from(data_dir=data_dir)
        try:
            report = backup(settings, destination)
        except (BackupError, OSError, sqlite3.Error) as exc:
            raise starting.fail(str(exc)) from None
        typer.echo(
            f"backed up {report.images} image(s), {report.objects} object(s) "
            f"({report.object_bytes / 1024 / 1024:.1f} MiB) and {len(report.secrets)} secret "
            f"file(s) into {destination}"
        )
        if report.missing_objects:
            typer.echo(
                f"{len(report.missing_objects)} image(s) were deleted during the backup; "
                "their rows are in it without bytes (manifest.json lists them)"
            )

    @app.command("restore")
    def restore_command(
        source: Annotated[Path, typer.Argument(metavar="SRC", help="a folder `backup` wrote")],
        data_dir: starting.DataOpt = None,
    ) -> None:
        """Restore a backup into a new data folder (no server running on it)."""

        settings = starting.settings_from(data_dir=data_dir)
        try:
            manifest, notes = restore(settings, source)
        except (BackupError, OSError, sqlite3.Error) as exc:
            raise starting.fail(str(exc)) from None
        for note in notes:
            typer.echo(note)
        typer.echo(
            f"restored {manifest.get('images')} image(s) from {manifest.get('created_at')} "
            f"into {settings.data_dir.resolve()}; start the server (it migrates the schema)"
        )
