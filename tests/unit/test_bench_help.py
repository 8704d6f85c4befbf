"""`--help` on a benchmark prints its options and runs nothing (it used to run the whole bench)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", ["bench_search", "bench_similar"])
def test_help_prints_the_docstring_and_stops(script: str) -> None:
    """Exactly the script's docstring comes out, exit 0: nothing is populated or timed."""
    source = (ROOT / "bench" / f"{script}.py").read_text()
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    assert docstring
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{script}", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == docstring.strip() + "\n"
    assert done.stderr == ""
