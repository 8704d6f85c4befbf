"""`bitimage serve | worker | cas | migrate | sweep`: errors are one line, never a traceback."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from bitimage.config import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Bit-image: a self-hostable image repository.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

HostOpt = Annotated[str | None, typer.Option(help="address to listen on [BITIMAGE_HOST]")]
PortOpt = Annotated[int | None, typer.Option(help="port to listen on [BITIMAGE_PORT]")]
DataOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="folder for the database, objects, keys")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"bitimage: {message}", err=True)
    return typer.Exit(code=2)


def _quiet_alembic(record: logging.LogRecord) -> bool:
    # Alembic's INFO lines are its plugin set-up chatter. Filtered on our own handler, so no
    # logger of another library is reconfigured.
    return record.levelno >= logging.WARNING or not record.name.startswith("alembic")


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_quiet_alembic)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise _fail(str(exc)) from None


def _prepare(settings: Settings) -> Any:
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
        elif (revision := pending_revision(container.database.engine)) is not None:
            raise _fail(f"the database schema is out of date ({revision}); run `bitimage migrate`")
    except OperationalError as exc:
        raise _fail(f"cannot use the database: {exc.orig}") from None
    except (OSError, ValueError, StoreUnavailable, QueueUnavailable) as exc:
        raise _fail(str(exc)) from None
    return container


def _run(settings: Settings, *, api: bool, cas: bool) -> None:
    import uvicorn  # here, not at the top: the client commands should start fast

    from bitimage.app import create_app
    from bitimage.cli.serving import uvicorn_options

    _configure_logging()
    container = _prepare(settings)
    typer.echo(
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
        factory = "bitimage.cli.main:api_app" if api else "bitimage.cli.main:cas_app"
        uvicorn.run(factory, factory=True, workers=settings.processes, **uvicorn_options(settings))
        return
    application = create_app(container, api=api, cas=cas)
    try:
        uvicorn.run(application, **uvicorn_options(settings))
    finally:
        container.close()


def api_app() -> Any:
    """The API and CAS app of one server process, from BITIMAGE_* variables."""
    from bitimage.app import create_app
    from bitimage.bootstrap import bootstrap

    return create_app(bootstrap(load_settings()), api=True, cas=True)


def cas_app() -> Any:
    """The CAS-only app of one server process, from BITIMAGE_* variables."""
    from bitimage.app import create_app
    from bitimage.bootstrap import bootstrap

    return create_app(bootstrap(load_settings()), api=False, cas=True)


@app.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataOpt = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="run the API alone, without background work")
    ] = False,
    processes: Annotated[
        int | None, typer.Option(help="server processes sharing the port [BITIMAGE_PROCESSES]")
    ] = None,
) -> None:
    """Run the API, the auth service and the embedded worker."""
    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        processes=processes,
        run_worker=False if no_worker else None,
    )
    _run(settings, api=True, cas=True)


@app.command()
def worker(
    data_dir: DataOpt = None,
    concurrency: Annotated[
        int | None, typer.Option(help="jobs analysed at once [BITIMAGE_WORKER_CONCURRENCY]")
    ] = None,
) -> None:
    """Run analysis workers (and the sweeper) without the API; stop with Ctrl-C or SIGTERM."""
    from bitimage.background import BackgroundServices

    _configure_logging()
    settings = _settings(data_dir=data_dir, worker_concurrency=concurrency)
    container = _prepare(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    started = time.monotonic()
    loaded = container.analysis.analysers  # load every model now: fail at start, not mid-job
    names = ", ".join(analyser.model for analyser in loaded)
    typer.echo(f"analysers loaded in {time.monotonic() - started:.1f} s: {names}")
    background = BackgroundServices(container, worker=True, sweeper=True)
    background.start()
    typer.echo(f"Bit-image worker running {settings.worker_concurrency} consumer(s)")
    try:
        stop.wait()
    finally:
        background.stop()
        container.close()


@app.command()
def reanalyze(
    all_images: Annotated[bool, typer.Option("--all", help="every image")] = False,
    image: Annotated[list[str] | None, typer.Option("--image", help="an image id")] = None,
    analyser: Annotated[
        list[str] | None, typer.Option("--analyser", help="only this analyser (repeatable)")
    ] = None,
    data_dir: DataOpt = None,
) -> None:
    """Queue images for analysis again, e.g. after a model upgrade."""
    import uuid

    from bitimage.config import ANALYSERS

    if all_images == bool(image):
        raise _fail("give either --all or --image ID (repeatable)")
    unknown = sorted(set(analyser or []) - set(ANALYSERS))
    if unknown:
        raise _fail(f"unknown analyser {unknown[0]!r}; known: {', '.join(ANALYSERS)}")
    try:
        ids = None if all_images else [uuid.UUID(i) for i in image or []]
    except ValueError:
        raise _fail("an --image is not an image id (a UUID)") from None
    container = _prepare(_settings(data_dir=data_dir))
    try:
        with container.database.transaction() as session:
            queued = container.analysis.reanalyze(session, ids, analyser or None)
        if container.relay is not None:
            container.relay.relay_once()
    finally:
        container.close()
    typer.echo(f"queued {queued} image(s) for analysis")


@app.command("clear-moderation")
def clear_moderation(image_id: str, data_dir: DataOpt = None) -> None:
    """Operator: show an image the explicit-content check hid from the public."""
    import uuid

    from bitimage.errors import NotFound

    try:
        parsed = uuid.UUID(image_id)
    except ValueError:
        raise _fail(f"{image_id!r} is not an image id") from None
    container = _prepare(_settings(data_dir=data_dir))
    try:
        with container.database.transaction() as session:
            container.images.clear_moderation(session, parsed, None)
    except NotFound as exc:
        raise _fail(exc.message) from None
    finally:
        container.close()
    typer.echo(f"image {parsed} is visible again")


@app.command()
def cas(host: HostOpt = None, port: PortOpt = None, data_dir: DataOpt = None) -> None:
    """Run the Central Auth Service alone."""
    _run(_settings(host=host, port=port, data_dir=data_dir, run_worker=False), api=False, cas=True)


@app.command()
def migrate(data_dir: DataOpt = None) -> None:
    """Apply the database migrations."""
    settings = _settings(data_dir=data_dir, auto_migrate=True)
    container = _prepare(settings)
    container.close()
    typer.echo("database schema is up to date")


@app.command()
def sweep(data_dir: DataOpt = None) -> None:
    """Remove expired unconfirmed uploads and carry out pending deletions, once."""
    container = _prepare(_settings(data_dir=data_dir))
    report = container.sweeper.sweep()
    container.close()
    typer.echo(
        f"expired uploads: {report.expired_grants}, orphaned objects: "
        f"{report.orphaned_objects}, purges: {report.purges}"
    )


from bitimage.cli.client import register as _register_client_commands  # noqa: E402

_register_client_commands(app)

from bitimage.cli.duplicates import register as _register_duplicate_commands  # noqa: E402

_register_duplicate_commands(app)
