"""Client commands of `bitimage`: signup, login, search, show, get, delete, account (upload: see
`uploading.py`).

They talk to a server over HTTP (`--server`, or BITIMAGE_SERVER) and never read the server's
settings. Errors are one line on stderr; exit status 0 on success, 1 on failure, 2 on misuse.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer

from bitimage.cli.common import JsonOpt, ServerOpt, client_for, fail, handled
from bitimage.client import DEFAULT_SERVER, Client, CredentialStore, ExpandedImage, ImageSummary

EmailOpt = Annotated[str, typer.Option("--email", metavar="EMAIL", help="your account's email")]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from the first line of stdin")
]


def _password(from_stdin: bool, confirm: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    if not password:
        raise typer.BadParameter("the password is empty", param_hint="password")
    return password


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _log_in(bit: Client, email: str, password: str) -> bool:
    bit.login(email, password)
    CredentialStore().save(bit.server, bit.token or "", email)
    return bit.ensure_account()


def signup(
    email: EmailOpt, password_stdin: StdinOpt = False, server: ServerOpt = DEFAULT_SERVER
) -> None:
    """Create an account (auth service and Bit-image) and log in."""
    password = _password(password_stdin, confirm=True)
    with handled(login_hint=False), client_for(server, need_token=False) as bit:
        answer = bit.signup(email, password)
        _log_in(bit, email, password)
        typer.echo(
            f"Signed up as {answer.email} (user {answer.user_id}); logged in to {bit.server}"
        )


def login(
    email: EmailOpt, password_stdin: StdinOpt = False, server: ServerOpt = DEFAULT_SERVER
) -> None:
    """Log in and keep the token (creates the Bit-image account if needed)."""
    password = _password(password_stdin, confirm=False)
    with handled(login_hint=False), client_for(server, need_token=False) as bit:
        created = _log_in(bit, email, password)
        extra = " (Bit-image account created)" if created else ""
        typer.echo(f"Logged in to {bit.server} as {email}{extra}")


def logout(server: ServerOpt = DEFAULT_SERVER) -> None:
    """Forget the token kept for the server."""
    with handled():
        removed = CredentialStore().remove(server)
    where = server.rstrip("/")
    typer.echo(f"Logged out of {where}" if removed else f"Not logged in to {where}")


def whoami(server: ServerOpt = DEFAULT_SERVER, as_json: JsonOpt = False) -> None:
    """Show who the token belongs to and the account's image count."""
    with handled(server=server), client_for(server) as bit:
        claims = bit.claims()
        account = bit.me()
        expires = datetime.fromtimestamp(claims.exp, UTC).isoformat() if claims.exp else None
        info = {
            "server": bit.server,
            "email": account.email or claims.email,
            "user_id": str(account.id),
            "image_upload_count": account.image_upload_count,
            "image_upload_limit": account.image_upload_limit,
            "token_expires_at": expires,
        }
    if as_json:
        _print_json(info)
        return
    limit = account.image_upload_limit
    typer.echo(f"{info['email'] or '(no email)'} (user {account.id}) on {bit.server}")
    typer.echo(
        f"images: {account.image_upload_count} of {limit if limit is not None else 'unlimited'}"
    )
    if expires:
        typer.echo(f"token expires at {expires}")


def _table(rows: list[list[str]], header: list[str]) -> str:
    cells = [header, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


_HEADER = ["ID", "NAME", "FORMAT", "SIZE", "PIXELS", "VISIBILITY", "CREATED"]


def _row(image: ImageSummary) -> list[str]:
    pixels = f"{image.width}x{image.height}" if image.width and image.height else "-"
    created = image.created_at.strftime("%Y-%m-%d %H:%M") if image.created_at else "-"
    visibility = "private" if image.is_private else "public"
    size = str(image.size_bytes)
    return [str(image.id), image.name, image.file_format, size, pixels, visibility, created]


def search(
    name: Annotated[
        str | None, typer.Option(metavar="TEXT", help="fuzzy match on the name")
    ] = None,
    tag: Annotated[str | None, typer.Option(metavar="TEXT", help="fuzzy match on a tag")] = None,
    label: Annotated[
        str | None, typer.Option(metavar="TEXT", help="fuzzy match on a content label")
    ] = None,
    text: Annotated[
        str | None, typer.Option(metavar="TEXT", help="fuzzy match on text read in the image")
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(min=0, max=1, metavar="0..1", help="with --label: the least confidence"),
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="everyone's public images")] = False,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="at most this many images")] = 100,
    as_json: JsonOpt = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Find your images (or public ones) by name, tag, content label or text in them."""
    with handled(server=server), client_for(server, need_token=not public) as bit:
        matches = bit.search(name=name, tag=tag, label=label, text=text, public=public, limit=limit,
                             min_confidence=min_confidence)  # fmt: skip
        found = list(matches)
    if as_json:
        _print_json([image.model_dump(mode="json") for image in found])
    elif found:
        typer.echo(_table([_row(image) for image in found], _HEADER))
        typer.echo("SIZE in bytes; PIXELS: width x height", err=True)
    else:
        typer.echo("no images found", err=True)


def _image_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an image id (a UUID)") from None


def _describe(image: ExpandedImage) -> str:
    labels = ", ".join(f"{label.name} ({label.confidence:.2f})" for label in image.labels)
    lines = [
        ("id", str(image.id)), ("name", image.name), ("md5", image.hash),
        ("visibility", "private" if image.is_private else "public"),
        ("format", image.file_format),
        ("size", f"{image.size_bytes} bytes"), ("pixels", f"{image.width}x{image.height}"),
        ("created", image.created_at.isoformat()), ("analysis", image.analysis_status),
        ("tags", ", ".join(tag.name for tag in image.tags) or "-"), ("labels", labels or "-"),
        ("colours", ", ".join(image.colours) or "-"),
        ("text", " ".join((image.text or "-").split())[:200]),
    ]  # fmt: skip
    if image.moderation is not None:
        lines.append(("moderation", image.moderation.status))
    if image.analysis_error:
        lines.append(("error", image.analysis_error))
    lines.append(("view_url", image.view_url))
    return "\n".join(f"{key + ':':<12}{value}" for key, value in lines)


def show(
    image_id: Annotated[str, typer.Argument(metavar="ID", help="image id")],
    as_json: JsonOpt = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Everything about one image: tags, labels, size, a view URL."""
    wanted = _image_id(image_id)
    with handled(server=server), client_for(server, need_token=False) as bit:
        image = bit.expanded(wanted)
    typer.echo(json.dumps(image.model_dump(mode="json"), indent=2) if as_json else _describe(image))


_EXTENSIONS = {"jpeg": "jpg", "tiff": "tif"}


def get(
    image_id: Annotated[str, typer.Argument(metavar="ID", help="image id")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="file to write ('-': stdout)"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="overwrite the file if it exists")
    ] = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Download an image's bytes (default file: its name and format); never overwrites a file
    unless --force is given."""
    wanted = _image_id(image_id)
    with handled(server=server), client_for(server, need_token=False) as bit:
        if output is not None and str(output) == "-":
            bit.download(wanted, sys.stdout.buffer)
            return
        if output is None:
            image = bit.expanded(wanted)
            extension = _EXTENSIONS.get(image.file_format, image.file_format)
            stem = image.name.replace(os.sep, "_").lstrip(".") or str(image.id)
            output = Path(f"{stem}.{extension}")
        if output.exists() and not force:
            raise fail(f"{output} exists; choose another file with --output, or add --force")
        try:
            bit.download(wanted, output)
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror or exc}") from None
    typer.echo(f"Saved {output} ({output.stat().st_size} bytes)", err=True)


def edit(
    image_id: Annotated[str, typer.Argument(metavar="ID", help="image id")],
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="the new name")] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", "-t", metavar="TAG", help="repeat; replaces every tag (--no-tags: remove all)"
        ),
    ] = None,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="remove every tag")] = False,
    public: Annotated[
        bool | None, typer.Option("--public/--private", help="who may see it", show_default=False)
    ] = None,
    as_json: JsonOpt = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Rename your image, replace its tags, or make it public or private."""
    wanted = _image_id(image_id)
    if tags and no_tags:
        raise fail("give --tag or --no-tags, not both", code=2)
    new_tags = [] if no_tags else tags
    if name is None and new_tags is None and public is None:
        raise fail("nothing to change: give --name, --tag, --no-tags, --public or --private", 2)
    with handled(server=server), client_for(server) as bit:
        image = bit.edit(
            wanted, name=name, tags=new_tags, is_private=None if public is None else not public
        )
    typer.echo(json.dumps(image.model_dump(mode="json"), indent=2) if as_json else _describe(image))


def delete(
    image_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="image ids")],
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Delete some of your images (all or nothing)."""
    ids = [_image_id(value) for value in image_ids]
    with handled(server=server), client_for(server) as bit:
        bit.delete_images(ids)
    typer.echo(f"Deleted {len(ids)} image{'s' if len(ids) != 1 else ''}")


def account_delete(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Delete your Bit-image account and every image in it."""
    with handled(server=server), client_for(server) as bit:
        claims = bit.claims()
        who = claims.email or str(claims.user_id)
        if not yes and not typer.confirm(
            f"Delete the Bit-image account of {who} on {bit.server} and every image in it?"
        ):
            raise fail("not deleted")
        bit.delete_account(claims.user_id)
    typer.echo(f"Deleted the Bit-image account of {who} and all its images")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bitimage {metadata.version('bitimage')}")
        raise typer.Exit()


def _main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Bit-image: a self-hostable image repository."""


def register(app: typer.Typer) -> None:
    """Add the client commands (and the `account` group) and `--version` to the `bitimage` app."""
    from bitimage.cli.uploading import upload  # it imports this module's helpers

    app.callback()(_main_options)
    for command in (signup, login, logout, whoami, upload, search, show, get, edit, delete):
        app.command()(command)
    account = typer.Typer(help="Your Bit-image account.", no_args_is_help=True)
    account.command("delete")(account_delete)
    app.add_typer(account, name="account")
