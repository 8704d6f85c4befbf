"""`bitimage cas [rotate-key | keys]`: the CAS alone, and its signing keys.

`bitimage cas` with no subcommand still serves the CAS alone, as it always did; the key
commands sit under it because they are the CAS's, as the issue names them
(`bitimage cas rotate-key`). Serving options given together with a subcommand are refused
rather than silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bitimage.cli import starting

cas = typer.Typer(
    help="Run the Central Auth Service alone (no subcommand), or manage its signing keys.",
    invoke_without_command=True,
)

KeyFileOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help="the CAS key file [BITIMAGE_CAS_KEY_FILE]"),
]


@cas.callback()
def serve_cas(
    context: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on [BITIMAGE_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on [BITIMAGE_PORT]")] = None,
    data_dir: starting.DataOpt = None,
) -> None:
    """Run the Central Auth Service alone (`bitimage cas rotate-key`: a new signing key)."""

    if context.invoked_subcommand is not None:
        if (host, port, data_dir) != (None, None, None):
            raise starting.fail(
                f"give --host/--port/--data-dir after `{context.invoked_subcommand}`"
            )
        return
    settings = starting.settings_from(host=host, port=port, data_dir=data_dir, run_worker=False)
    starting.run_server(settings, api=False, cas=True)


@cas.command("rotate-key")
def rotate_key(data_dir: starting.DataOpt = None, key_file: KeyFileOpt = None) -> None:
    """Sign new tokens with a new key; tokens signed before stay valid until they expire."""
    from bitimage.cas.keys import rotate_keys

    settings = starting.settings_from(data_dir=data_dir, cas_key_file=key_file)
    if settings.jwks_url is not None:
        raise starting.fail(
            "BITIMAGE_JWKS_URL is set: tokens come from another issuer, not this CAS"
        )
    path = settings.resolved_cas_key_file
    try:
        report = rotate_keys(path, settings.token_ttl_seconds)
    except (OSError, ValueError) as exc:
        raise starting.fail(str(exc)) from None
    typer.echo(f"new signing key {report.signing} in {path}")
    if report.kept:
        typer.echo(f"still published, for tokens signed before: {', '.join(report.kept)}")
    if report.dropped:
        typer.echo(f"dropped (older than any valid token): {', '.join(report.dropped)}")
    typer.echo("running servers pick the new key up from the file; no restart needed")


@cas.command("keys")
def list_keys(data_dir: starting.DataOpt = None, key_file: KeyFileOpt = None) -> None:
    """List the keys of the key file: the signing one first, then those still published."""
    from bitimage.cas.keys import parse_keys

    settings = starting.settings_from(data_dir=data_dir, cas_key_file=key_file)
    path = settings.resolved_cas_key_file
    try:
        keys = parse_keys(path.read_text(), path)
    except (OSError, ValueError) as exc:
        raise starting.fail(str(exc)) from None
    for index, item in enumerate(reversed(keys)):
        role = "signing" if index == 0 else "verifying"
        added = item.added.isoformat(timespec="seconds") if item.added else "-"
        retired = item.retired.isoformat(timespec="seconds") if item.retired else "-"
        typer.echo(f"{item.kid}  {role:9}  added {added}  retired {retired}")
