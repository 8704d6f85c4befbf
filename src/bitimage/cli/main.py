"""`bitimage serve | worker | cas | migrate | sweep`: errors are one line, never a traceback."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated

import typer

from bitimage.cli.starting import (
    DataOpt,
    HostOpt,
    PortOpt,
    configure_logging,
    fail,
    prepare,
    run_server,
    settings_from,
    settle_heap,
    step_back,
)

app = typer.Typer(
    help="Bit-image: a self-hostable image repository.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
    settings = settings_from(
        host=host,
        port=port,
        data_dir=data_dir,
        processes=processes,
        run_worker=False if no_worker else None,
    )
    run_server(settings, api=True, cas=True)


@app.command()
def worker(
    data_dir: DataOpt = None,
    concurrency: Annotated[
        int | None, typer.Option(help="jobs analysed at once [BITIMAGE_WORKER_CONCURRENCY]")
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
) -> None:
    """Run analysis workers (and the sweeper) without the API; stop with Ctrl-C or SIGTERM.

    With BITIMAGE_METRICS=true it serves /metrics and /healthz on --host/--port.
    """
    from bitimage.background import BackgroundServices
    from bitimage.cli.serving import WorkerEndpoint

    settings = settings_from(
        data_dir=data_dir, worker_concurrency=concurrency, host=host, port=port
    )
    configure_logging(settings)
    container = prepare(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    started = time.monotonic()
    loaded = container.analysis.analysers  # load every model now: fail at start, not mid-job
    names = ", ".join(analyser.model for analyser in loaded)
    typer.echo(f"analysers loaded in {time.monotonic() - started:.1f} s: {names}")
    endpoint = None
    if settings.metrics:
        endpoint = WorkerEndpoint(settings, getattr(container.queue, "stats", None))
        try:
            endpoint.start()
        except OSError as exc:
            container.close()
            raise fail(str(exc)) from None
    settle_heap()
    background = BackgroundServices(container, worker=True, sweeper=True)
    background.start()
    typer.echo(f"Bit-image worker running {settings.worker_concurrency} consumer(s)")
    try:
        stop.wait()
    finally:
        background.stop()
        if endpoint is not None:
            endpoint.stop()
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
        raise fail("give either --all or --image ID (repeatable)")
    unknown = sorted(set(analyser or []) - set(ANALYSERS))
    if unknown:
        raise fail(f"unknown analyser {unknown[0]!r}; known: {', '.join(ANALYSERS)}")
    try:
        ids = None if all_images else [uuid.UUID(i) for i in image or []]
    except ValueError:
        raise fail("an --image is not an image id (a UUID)") from None
    container = prepare(settings_from(data_dir=data_dir))
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
        raise fail(f"{image_id!r} is not an image id") from None
    container = prepare(settings_from(data_dir=data_dir))
    try:
        with container.database.transaction() as session:
            container.images.clear_moderation(session, parsed, None)
    except NotFound as exc:
        raise fail(exc.message) from None
    finally:
        container.close()
    typer.echo(f"image {parsed} is visible again")


@app.command()
def migrate(
    data_dir: DataOpt = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="REVISION",
            help="take the schema back to this revision instead (e.g. 0012, README)",
        ),
    ] = None,
) -> None:
    """Apply the database migrations."""
    if to is not None:
        step_back(settings_from(data_dir=data_dir), to)
        typer.echo(f"database schema is at {to}")
        return
    settings = settings_from(data_dir=data_dir, auto_migrate=True)
    container = prepare(settings)
    container.close()
    typer.echo("database schema is up to date")


@app.command()
def sweep(data_dir: DataOpt = None) -> None:
    """Remove expired unconfirmed uploads and carry out pending deletions, once."""
    container = prepare(settings_from(data_dir=data_dir))
    report = container.sweeper.sweep()
    container.close()
    typer.echo(
        f"expired uploads: {report.expired_grants}, orphaned objects: "
        f"{report.orphaned_objects}, purges: {report.purges}"
    )


@app.command("index-vectors")
def index_vectors(data_dir: DataOpt = None) -> None:
    """Train the visual-similarity index if due and file every stale vector, once."""
    container = prepare(settings_from(data_dir=data_dir))
    report = container.vector_upkeep.run()
    container.close()
    trained = "trained now" if report.trained else "no training due"
    typer.echo(
        f"vectors: {report.vectors}, lists: {report.lists} ({trained}), "
        f"generation: {report.generation}, reassigned: {report.reassigned}"
    )


OriginOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--origin",
        help="origin of the web application (repeat); default: BITIMAGE_PUBLIC_URL's",
    ),
]


@app.command("s3-cors")
def s3_cors(origin: OriginOpt = None, data_dir: DataOpt = None) -> None:
    """Let browsers PUT uploads to and GET images from the S3 buckets (their CORS rule)."""
    from bitimage.storage.cors import set_browser_cors
    from bitimage.storage.ports import StoreUnavailable
    from bitimage.storage.s3 import s3_store_from_url

    settings = settings_from(data_dir=data_dir)
    if not settings.resolved_storage_url.startswith("s3://"):
        raise fail("BITIMAGE_STORAGE_URL is not s3://BUCKET: the local store needs no CORS")
    origins = [o.rstrip("/") for o in origin] if origin else [settings.base_url]
    store = s3_store_from_url(
        settings.resolved_storage_url, settings.s3_staging_bucket, settings.s3_endpoint_url
    )
    try:
        buckets = set_browser_cors(store, origins)
    except StoreUnavailable as exc:
        raise fail(f"cannot set the CORS rule: {exc}") from None
    typer.echo(f"CORS rule set on {', '.join(buckets)} for {', '.join(origins)}")


from bitimage.cli.client import register as _register_client_commands  # noqa: E402

_register_client_commands(app)

# The operator's commands live in their own modules, each a group of its own.
from bitimage.cli.admin import admin as _admin  # noqa: E402
from bitimage.cli.backup import register as _register_backup  # noqa: E402
from bitimage.cli.cas import cas as _cas  # noqa: E402

_register_backup(app)
app.add_typer(_admin, name="admin")
# `bitimage cas` serves the CAS alone, as before; `bitimage cas rotate-key` manages its keys.
app.add_typer(_cas, name="cas")

from bitimage.cli.duplicates import register as _register_duplicate_commands  # noqa: E402
from bitimage.cli.helptext import tidy  # noqa: E402

_register_duplicate_commands(app)
tidy(app)  # last: every command's and group's help names values by metavar
