"""What every server-side command shares: options, settings, start-up checks, serving."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from bitimage.config import Settings, SettingsError, load_settings

HostOpt = Annotated[str | None, typer.Option(help="address to listen on [BITIMAGE_HOST]")]
PortOpt = Annotated[int | None, typer.Option(help="port to listen on [BITIMAGE_PORT]")]
DataOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="folder for the database, objects, keys")
]


def fail(message: str) -> typer.Exit:
    typer.echo(f"bitimage: {message}", err=True)
    return typer.Exit(code=2)


def quiet_alembic(record: logging.LogRecord) -> bool:
    # Alembic's INFO lines are its plugin set-up chatter. Filtered on our own handler, so no
    # logger of another library is reconfigured.
    return record.levelno >= logging.WARNING or not record.name.startswith("alembic")


def configure_logging(settings: Settings) -> None:
    from bitimage.cli import observe

    handler = logging.StreamHandler()
    handler.addFilter(quiet_alembic)
    observe.configure_logging(settings.log_format, handler)  # text, or BITIMAGE_LOG_FORMAT=json


def settings_from(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise fail(str(exc)) from None


def prepare(settings: Settings) -> Any:
    """Build the container and bring the schema up to date (or refuse to start)."""
    from sqlalchemy.exc import OperationalError

    from bitimage.bootstrap import bootstrap
    from bitimage.db.migrate import pending_revision, upgrade
    from bitimage.queue.ports import QueueUnavailable
    from bitimage.storage.ports import StoreUnavailable

    try:
        container = bootstrap(settings)
        if settings.migrate_on_start:
            upgrade(container.database.engine)
            # A database migrated here has its planner statistics (SQLite never gathers them
            # itself); a pass finding them current costs one count of the images.
            container.statistics.run()
        elif (revision := pending_revision(container.database.engine)) is not None:
            raise fail(f"the database schema is out of date ({revision}); run `bitimage migrate`")
    except OperationalError as exc:
        raise fail(f"cannot use the database: {exc.orig}") from None
    except (OSError, ValueError, StoreUnavailable, QueueUnavailable) as exc:
        raise fail(str(exc)) from None
    return container


def settle_heap() -> None:
    """Collect, then freeze what start-up built, once the process is ready to serve.

    Start-up leaves some 130,000 long-lived objects (modules, models, the app). Each full
    pass of the cyclic collector walked them all: 30-90 ms, stalling whatever request ran
    then (the p99 of bench_search). Frozen, they are skipped by every later pass.
    """
    gc.collect()
    gc.freeze()


def step_back(settings: Settings, revision: str) -> None:
    """Downgrade the schema to `revision` (`bitimage migrate --to`), or refuse in one line."""
    from alembic.util import CommandError
    from sqlalchemy.exc import OperationalError

    from bitimage.db.migrate import downgrade
    from bitimage.db.session import create_db_engine

    engine = create_db_engine(settings.resolved_database_url)
    try:
        downgrade(engine, revision)
    except CommandError as exc:
        raise fail(f"cannot migrate to {revision}: {exc}") from None
    except OperationalError as exc:
        raise fail(f"cannot use the database: {exc.orig}") from None
    finally:
        engine.dispose()


def run_server(settings: Settings, *, api: bool, cas: bool) -> None:
    from bitimage.app import create_app
    from bitimage.cli.observe import metrics_environment
    from bitimage.cli.serving import PortUnavailable, bind_socket, serve_on

    configure_logging(settings)
    try:
        sock = bind_socket(settings)  # first: a busy port is one line, before any work
    except PortUnavailable as exc:
        raise fail(str(exc)) from None
    container = prepare(settings)
    listening = (
        f"Bit-image listening on {settings.base_url} (data in {settings.data_dir.resolve()})"
    )
    if settings.processes > 1:
        container.close()
        # Each process builds its own container from the environment; keys and the
        # schema were made above, once, before any of them starts.
        os.environ.update(
            BITIMAGE_HOST=settings.host,
            BITIMAGE_PORT=str(settings.port),
            BITIMAGE_DATA_DIR=str(settings.data_dir.resolve()),
            BITIMAGE_RUN_WORKER=str(settings.run_worker).lower(),
            BITIMAGE_AUTO_MIGRATE="false",
        )
        os.environ.update(metrics_environment(settings))  # one metrics folder for them all
        factory = "bitimage.cli.starting:api_app" if api else "bitimage.cli.starting:cas_app"
        typer.echo(listening)
        serve_on(sock, factory, settings, workers=settings.processes)
        return
    application = create_app(container, api=api, cas=cas)
    settle_heap()
    typer.echo(listening)
    try:
        serve_on(sock, application, settings)
    finally:
        container.close()


def api_app() -> Any:
    """The API and CAS app of one server process, from BITIMAGE_* variables."""
    from bitimage.app import create_app
    from bitimage.bootstrap import bootstrap

    application = create_app(bootstrap(load_settings()), api=True, cas=True)
    settle_heap()
    return application


def cas_app() -> Any:
    """The CAS-only app of one server process, from BITIMAGE_* variables."""
    from bitimage.app import create_app
    from bitimage.bootstrap import bootstrap

    application = create_app(bootstrap(load_settings()), api=False, cas=True)
    settle_heap()
    return application
