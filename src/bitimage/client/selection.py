"""Which files of the paths given an upload considers, and why it leaves the others out.

A photo folder holds more than photos (PDFs, sidecars, `Thumbs.db`): by default only files with
an image extension are considered, so a rerun from cron does not send the same refused files
again. Every file left out is reported with its reason; none of them is an error.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

IMAGE_EXTENSIONS = frozenset(
    {"jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif"}
)


@dataclass(frozen=True)
class Ignored:
    """A file (or folder) an upload left out, and why."""

    path: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"path": self.path, "reason": self.reason}


@dataclass
class Selection:
    """The files to upload, in order, and the entries left out."""

    files: list[Path] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


def _matches(patterns: Sequence[str], relative: PurePath) -> str | None:
    """The first pattern matching the file's name or its path under the folder given, if any."""
    name, path = relative.name.lower(), relative.as_posix().lower()
    for pattern in patterns:
        wanted = pattern.lower()
        if fnmatch.fnmatchcase(name, wanted) or fnmatch.fnmatchcase(path, wanted):
            return pattern
    return None


class _Selector:
    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self.include, self.exclude = list(include), list(exclude)
        self.selection = Selection()

    def consider(self, path: Path, relative: PurePath) -> None:
        """Keep the file, or note why not (exclusions first, then the include rule)."""
        if (pattern := _matches(self.exclude, relative)) is not None:
            self._ignore(path, f"excluded by {pattern!r}")
        elif self.include:
            if _matches(self.include, relative) is None:
                self._ignore(path, "matches no include pattern")
            else:
                self.selection.files.append(path)
        elif path.suffix[1:].lower() in IMAGE_EXTENSIONS:
            self.selection.files.append(path)
        else:
            kind = f"{path.suffix.lower()} file" if path.suffix else "file without extension"
            self._ignore(path, f"not an image: a {kind}")

    def _ignore(self, path: Path, reason: str) -> None:
        self.selection.ignored.append(Ignored(str(path), reason))

    def walk(self, folder: Path, recursive: bool) -> None:
        """The folder's files in name order; hidden entries and (unless recursive) sub-folders
        are noted as left out."""
        for root, dirs, files in os.walk(folder):
            here = Path(root)
            for name in sorted(dirs):
                if name.startswith("."):
                    self._ignore(here / name, "hidden folder")
                elif not recursive:
                    self._ignore(here / name, "a folder (not recursive)")
            dirs[:] = sorted(d for d in dirs if recursive and not d.startswith("."))
            for name in sorted(files):
                path = here / name
                if name.startswith("."):
                    self._ignore(path, "hidden file")
                else:
                    self.consider(path, path.relative_to(folder))


def select_files(
    paths: Iterable[Path],
    recursive: bool,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Selection:
    """The files to upload among `paths` (files, and the files of folders) and those left out.

    By default a file is kept when its extension is an image one (case ignored). `include`
    globs replace that rule (`*` keeps every file); `exclude` globs leave files out. A glob is
    matched, case ignored, against the file's name and its path under the folder given.
    Hidden entries inside folders are left out.
    """
    selector = _Selector(include, exclude)
    for path in paths:
        if path.is_dir():
            selector.walk(path, recursive)
        else:
            selector.consider(path, PurePath(path.name))
    return selector.selection
