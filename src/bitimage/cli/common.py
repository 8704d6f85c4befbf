"""What every client command shares: the --server and --json options, the token, one-line errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from bitimage.client import (
    DEFAULT_SERVER,
    ApiError,
    AuthorizationFailed,
    BitimageError,
    Client,
    CredentialStore,
    MalformedToken,
)

ServerOpt = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="BITIMAGE_SERVER",
        metavar="URL",
        help="Bit-image server URL [BITIMAGE_SERVER]",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `bitimage: message` on stderr; the exit to raise (status `code`)."""
    typer.echo(f"bitimage: {message}", err=True)
    return typer.Exit(code=code)


# A token from the environment is not fixed by logging in again: say where it came from.
_FROM_ENV = "the token comes from BITIMAGE_TOKEN: set a valid one, or unset it to use your login"


@contextmanager
def handled(login_hint: bool = True, server: str = DEFAULT_SERVER) -> Iterator[None]:
    """Turn SDK errors into one line on stderr and exit status 1."""
    from_env = bool(os.environ.get("BITIMAGE_TOKEN"))
    try:
        yield
    except AuthorizationFailed as exc:
        if not login_hint:
            raise fail(str(exc)) from None
        raise fail(f"{exc} ({_FROM_ENV if from_env else 'run `bitimage login`'})") from None
    except MalformedToken:
        if from_env:
            raise fail(f"BITIMAGE_TOKEN is not a token (not a JWT); {_FROM_ENV}") from None
        where = server.rstrip("/")
        raise fail(f"the token saved for {where} is malformed: run `bitimage login`") from None
    except ApiError as exc:
        wait = f" (retry in {exc.retry_after:.0f} s)" if exc.retry_after else ""
        raise fail(f"{exc}{wait}") from None
    except BitimageError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


def client_for(server: str, *, need_token: bool = True) -> Client:
    """A client of `server` with the token of BITIMAGE_TOKEN, else the saved one."""
    store = CredentialStore()
    token = os.environ.get("BITIMAGE_TOKEN") or store.token(server)
    if need_token and not token:
        raise fail(f"not logged in to {server.rstrip('/')}: run `bitimage login --email ...`")
    return Client(server, token)
