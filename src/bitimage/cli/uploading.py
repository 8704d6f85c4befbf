"""`bitimage upload`: the image files of the paths given, with what was left out and why.

Only files with an image extension are considered by default (`--include`/`--exclude` globs
change that); every other file is counted with its reason, listed with `--verbose`, included in
`--json`, and never makes the exit status 1: a photo folder with sidecars and PDFs in it can be
uploaded from cron, and a rerun exits 0 once every image is there.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bitimage.cli.common import JsonOpt, ServerOpt, client_for, handled
from bitimage.client import DEFAULT_SERVER, UploadProgress, UploadReport
from bitimage.client.selection import Ignored, Selection, select_files

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class _Bar:
    """Rich progress bars on stderr: hashing (reading files to look them up) and uploading."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress: Progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        # Hashing shows only once a file is read before sending (an account that holds images):
        # its speed is the disk's, never counted as upload speed.
        self.hashing: TaskID = self.progress.add_task(
            "hashing", total=None, files="", visible=False
        )
        self.uploading: TaskID = self.progress.add_task("uploading", total=None, files="")

    def __call__(self, update: UploadProgress) -> None:
        if update.bytes_hashed:
            self.progress.update(
                self.hashing, total=update.bytes_total, completed=update.bytes_hashed, visible=True
            )
        files = f"{update.files_done}/{update.files_total} files"
        self.progress.update(
            self.uploading, total=update.bytes_to_send, completed=update.bytes_sent, files=files
        )


def _ignored_summary(ignored: list[Ignored]) -> str:
    reasons = Counter(entry.reason for entry in ignored)
    parts = "; ".join(f"{count} {reason}" for reason, count in reasons.most_common())
    noun = "file" if len(ignored) == 1 else "files"
    return f"{len(ignored)} other {noun} ignored ({parts})"


def _dry_run(chosen: Selection, verbose: bool, as_json: bool) -> None:
    if as_json:
        files = [{"path": str(path), "size": path.stat().st_size} for path in chosen.files]
        ignored = [entry.to_json() for entry in chosen.ignored]
        typer.echo(json.dumps({"files": files, "ignored_files": ignored}, indent=2))
        return
    for path in chosen.files:
        typer.echo(f"would upload: {path}")
    if verbose:
        for entry in chosen.ignored:
            typer.echo(f"ignored: {entry.path} ({entry.reason})")
    size = sum(path.stat().st_size for path in chosen.files)
    typer.echo(
        f"{len(chosen.files)} image files ({size} bytes) would be uploaded, "
        "unless the account already holds them"
    )
    if chosen.ignored:
        typer.echo(_ignored_summary(chosen.ignored))


def _print_report(report: UploadReport, verbose: bool) -> None:
    for failed in report.failed:
        typer.echo(f"bitimage: {failed.source}: {failed.reason}", err=True)
    if verbose:
        for skipped in report.skipped:
            typer.echo(f"skipped: {skipped.source} ({skipped.reason})")
        for entry in report.ignored:
            typer.echo(f"ignored: {entry.path} ({entry.reason})")
    typer.echo(
        f"{len(report.uploaded)} uploaded, {len(report.skipped)} skipped "
        f"(already there), {len(report.failed)} failed"
    )
    if report.ignored:
        hint = "" if verbose else "; --verbose lists them"
        typer.echo(f"{_ignored_summary(report.ignored)}{hint}")


def upload(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", exists=True, help="files and folders")
    ],
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="descend into sub-folders")
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="TAG", help="a tag for every image (repeat)"),
    ] = None,
    public: Annotated[bool, typer.Option("--public/--private", help="visibility")] = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="GLOB",
            help="consider only files matching (repeat; instead of the image extensions)",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", metavar="GLOB", help="leave out files matching (repeat)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list what would be uploaded; send nothing")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="list every file left out and why")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, metavar="N", help="files sent at once")
    ] = 8,
    skip_near: Annotated[
        bool,
        typer.Option(
            "--skip-near-duplicates",
            help="skip too a resized or re-encoded copy of an image you hold (by dHash)",
        ),
    ] = False,
    max_distance: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=12,
            help="with --skip-near-duplicates: largest dHash distance (of 64 bits) that "
            "counts; default: the server's setting",
        ),
    ] = None,
    as_json: JsonOpt = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Upload the images among files and folders (name: the file name without extension).

    Files with an image extension are considered (jpg, jpeg, png, gif, webp, bmp, tif, tiff,
    heic, heif, avif; any case); others are counted as ignored, never as failures. Bytes the
    account already holds are skipped; with --skip-near-duplicates, so are near copies of its
    images and of files sent before in the run. Globs match a file's name or its path in the
    folder.
    """
    tags = tag or []
    for name in tags:
        if not 1 <= len(name.strip()) <= 64:
            raise typer.BadParameter(f"{name!r}: tags are 1 to 64 characters", param_hint="--tag")
    if max_distance is not None and not skip_near:
        raise typer.BadParameter("only with --skip-near-duplicates", param_hint="--max-distance")
    chosen = select_files(paths, recursive, include or [], exclude or [])
    if dry_run:
        _dry_run(chosen, verbose, as_json)
        return
    bar = _Bar() if sys.stderr.isatty() and not as_json and chosen.files else None
    with handled(server=server), client_for(server) as bit:
        # The files are chosen already: the SDK is told to take each as it is (`*`).
        def send() -> UploadReport:
            return bit.upload(
                chosen.files, tags=tags, is_private=not public, concurrency=concurrency,
                include=["*"], progress=bar, skip_near_duplicates=skip_near,
                max_distance=max_distance,
            )  # fmt: skip

        if bar is not None:
            with bar.progress:
                report = send()
        else:
            report = send()
    report.ignored = chosen.ignored
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        _print_report(report, verbose)
    if not report.ok:
        raise typer.Exit(code=1)
