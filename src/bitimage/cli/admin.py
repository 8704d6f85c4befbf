"""`bitimage admin users | set-limit | delete-user`: the operator's account commands.

Each command is an entrypoint: it opens the unit of work and hands the session to the same
services the API uses, so a deletion here is the API's deletion (rows, CAS identity, and the
objects purged after the commit).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bitimage.cli import starting

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bitimage.bootstrap import Container

admin = typer.Typer(
    help="Operator commands on accounts (USER: a user id, or an email of the built-in CAS).",
    no_args_is_help=True,
)

UNLIMITED = ("unlimited", "none")


def _container(data_dir: Path | None) -> Container:
    built: Container = starting.prepare(starting.settings_from(data_dir=data_dir))
    return built


def resolve_user(container: Container, session: Session, user: str) -> uuid.UUID:
    """USER as an id: a UUID as given, an email through the built-in CAS."""
    try:
        return uuid.UUID(user)
    except ValueError:
        pass
    if "@" not in user:
        raise starting.fail(f"{user!r} is neither a user id nor an email")
    if container.settings.jwks_url is not None:
        raise starting.fail("emails are known only to the built-in CAS; give the user id")
    found = container.cas.identity_of(session, user)
    if found is None:
        raise starting.fail(f"no one signed up with {user}")
    return found


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@admin.command("users")
def users(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array on stdout")] = False,
    data_dir: starting.DataOpt = None,
) -> None:
    """List accounts: id, email, images, limit; sign-ups without an account too."""
    container = _container(data_dir)
    try:
        with container.database.transaction(write=False) as session:
            accounts = container.users.list_all(session)
            own_cas = container.settings.jwks_url is None
            identities = container.cas.identities(session) if own_cas else []
            rows: list[dict[str, Any]] = []
            emails = {identity.id: identity.email for identity in identities}
            for user in accounts:
                rows.append(
                    {
                        "id": str(user.id),
                        "email": emails.pop(user.id, None),
                        "account": True,
                        "image_upload_count": user.image_upload_count,
                        "image_upload_limit": user.image_upload_limit,
                        "created_at": _iso(user.created_at),
                    }
                )
            for identity in identities:  # signed up, never created a Bit-image account
                if identity.id in emails:
                    rows.append(
                        {
                            "id": str(identity.id),
                            "email": identity.email,
                            "account": False,
                            "image_upload_count": 0,
                            "image_upload_limit": None,
                            "created_at": _iso(identity.created_at),
                        }
                    )
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'ID':36}  {'EMAIL':30}  {'IMAGES':>6}  {'LIMIT':>9}  CREATED")
    for row in rows:
        limit = row["image_upload_limit"]
        images = row["image_upload_count"] if row["account"] else "-"
        typer.echo(
            f"{row['id']:36}  {row['email'] or '-':30}  {images:>6}  "
            f"{'unlimited' if limit is None else limit:>9}  {row['created_at'][:19]}"
        )
    accounts_count = sum(1 for row in rows if row["account"])
    typer.echo(f"{accounts_count} account(s), {len(rows) - accounts_count} sign-up(s) without one")


@admin.command("set-limit")
def set_limit(
    user: Annotated[str, typer.Argument(metavar="USER", help="user id or email")],
    limit: Annotated[str, typer.Argument(metavar="N", help="images allowed, or 'unlimited'")],
    data_dir: starting.DataOpt = None,
) -> None:
    """Set how many images USER may keep (images already above it stay)."""
    from bitimage.errors import AppError

    if limit.lower() in UNLIMITED:
        value: int | None = None
    elif limit.isdigit():
        value = int(limit)
    else:
        raise starting.fail(f"{limit!r} is not a count (0 or more) nor 'unlimited'")
    container = _container(data_dir)
    try:
        with container.database.transaction() as session:
            user_id = resolve_user(container, session, user)
            changed = container.users.set_limit(session, user_id, value)
            count = changed.image_upload_count
    except AppError as exc:
        raise starting.fail(exc.message) from None
    finally:
        container.close()
    shown = "unlimited" if value is None else str(value)
    typer.echo(f"user {user_id}: image limit {shown} ({count} image(s) now)")


@admin.command("delete-user")
def delete_user(
    user: Annotated[str, typer.Argument(metavar="USER", help="user id or email")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    data_dir: starting.DataOpt = None,
) -> None:
    """Delete USER's account as DELETE /users/{id} does: images, bytes, and the sign-up."""
    from bitimage.errors import AppError, NotFound

    if not yes:
        typer.confirm(f"delete {user}, every image and every stored byte?", abort=True)
    container = _container(data_dir)
    try:
        with container.database.transaction() as session:
            user_id = resolve_user(container, session, user)
            try:
                container.users.delete_as_operator(session, user_id)
                what = "account, images and sign-up deleted; stored objects purged"
            except NotFound:
                # Signed up but never created an account: only the sign-up is there to go.
                if container.settings.jwks_url is not None:
                    raise
                if not container.cas.identity_exists(session, user_id):
                    raise NotFound(f"User {user_id} has neither an account nor a sign-up") from None
                container.cas.delete_identity(session, user_id)
                what = "sign-up deleted (there was no Bit-image account)"
    except AppError as exc:
        raise starting.fail(exc.message) from None
    finally:
        container.close()
    typer.echo(f"user {user_id}: {what}")
