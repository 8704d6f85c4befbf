"""Who opens a unit of work: entrypoints only, never a feature's service or repository.

A request dependency (deps.py), a job (a feature's tasks.py), the periodic runner (the
sweeper), the purges run after a commit, each CLI command and notify's group-commit batcher
open transactions; every other module of a feature is handed a session.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bitimage

FEATURES = ("cas", "users", "images", "renditions", "analysis")
# Entrypoints inside features, and why each may open a transaction of its own.
ENTRYPOINTS = {
    "images/uploads.py",  # notify's batcher: claims, releases and group commit
    "images/purges.py",  # runs after a commit, or from the sweeper: the store works between
    "images/sweeper.py",  # the periodic runner, one unit of work per step
    "analysis/tasks.py",  # the analysis job: load, analyse outside any transaction, store
    "renditions/tasks.py",  # the rendition step: read, render outside any transaction, record
}
OPENERS = {"transaction", "run"}


def _openings(path: Path) -> list[str]:
    """Calls like `self.database.transaction(...)` or `database.run(...)` in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = ast.unparse(node.func.value).lower()
            if node.func.attr in OPENERS and ("database" in receiver or "_db" in receiver):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node.func)}(...)")
    return found


def _feature_modules() -> list[tuple[str, Path]]:
    root = Path(bitimage.__file__).parent
    return [
        (path.relative_to(root).as_posix(), path)
        for feature in FEATURES
        for path in sorted((root / feature).rglob("*.py"))
    ]


def test_no_feature_module_but_an_entrypoint_opens_a_transaction() -> None:
    opened = [
        opening
        for name, path in _feature_modules()
        if name not in ENTRYPOINTS
        for opening in _openings(path)
    ]
    assert opened == [], "services and repositories receive a session; they never open one"


def test_the_checker_sees_an_opening() -> None:
    # The rule would pass vacuously if the checker missed the calls it looks for.
    root = Path(bitimage.__file__).parent
    assert _openings(root / "analysis" / "tasks.py")
    assert _openings(root / "images" / "sweeper.py")


def test_every_listed_entrypoint_exists() -> None:
    names = {name for name, _ in _feature_modules()}
    assert names >= ENTRYPOINTS
