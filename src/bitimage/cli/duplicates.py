"""Client commands about copies: `bitimage duplicates` (your library), `bitimage similar ID`
(`--visual`: look-alikes)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from bitimage.cli.client import _image_id, _print_json, _table
from bitimage.cli.common import JsonOpt, ServerOpt, client_for, handled
from bitimage.client import DEFAULT_SERVER, SimilarImage

DistanceOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=12,
        help="largest dHash distance (of 64 bits) that counts; default: the server's setting",
    ),
]


def _gap(entry: SimilarImage) -> str:
    if entry.similarity is not None:
        return f"{entry.similarity:.3f}"
    if entry.exact:
        return "same bytes"
    return "-" if entry.distance is None else str(entry.distance)


def _rows(found: list[SimilarImage]) -> list[list[str]]:
    return [
        [
            str(entry.image.id),
            entry.image.name,
            _gap(entry),
            f"{entry.image.width}x{entry.image.height}",
            "private" if entry.image.is_private else "public",
        ]
        for entry in found
    ]


HEADER = ["ID", "NAME", "DISTANCE", "SIZE", "VISIBILITY"]


def duplicates(
    max_distance: DistanceOpt = None, as_json: JsonOpt = False, server: ServerOpt = DEFAULT_SERVER
) -> None:
    """Groups of the same picture in your library: same bytes, resized, re-encoded, edited."""
    with handled(server=server), client_for(server) as bit:
        groups = list(bit.duplicates(max_distance))
    if as_json:
        _print_json([group.model_dump(mode="json") for group in groups])
        return
    if not groups:
        typer.echo("no duplicates found", err=True)
        return
    for number, group in enumerate(groups, 1):
        typer.echo(f"group {number}: {len(group.images)} images (the oldest first)")
        typer.echo(_table(_rows(group.images), HEADER))
        typer.echo()


def similar(
    image_id: Annotated[str, typer.Argument(metavar="ID", help="image id")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="at most this many")] = 20,
    max_distance: DistanceOpt = None,
    visual: Annotated[
        bool, typer.Option("--visual", help="images that look alike, not copies (kind=visual)")
    ] = False,
    as_json: JsonOpt = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Copies of one image (--visual: look-alikes): yours, or public ones of a public image."""
    wanted = _image_id(image_id)
    if visual and max_distance is not None:
        raise typer.BadParameter("--max-distance applies to copies, not to --visual")
    with handled(server=server), client_for(server, need_token=False) as bit:
        kind: Literal["duplicate", "visual"] = "visual" if visual else "duplicate"
        found = bit.similar(wanted, limit=limit, max_distance=max_distance, kind=kind)
    if as_json:
        _print_json(found.model_dump(mode="json"))
    elif found.images:
        header = [*HEADER[:2], "SIMILARITY", *HEADER[3:]] if visual else HEADER
        typer.echo(_table(_rows(found.images), header))
    else:
        typer.echo("no look-alikes found" if visual else "no copies found", err=True)


def register(app: typer.Typer) -> None:
    """Add `duplicates` and `similar` to the `bitimage` app."""
    app.command()(duplicates)
    app.command()(similar)
