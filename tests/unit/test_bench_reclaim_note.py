"""bench_search says when the kernel pages out idle memory (its p99s then include disk reads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._search_report import reclaim_note


def _kdamond(root: Path, state: str, action: str, age: int, aggr_us: int) -> None:
    """A DAMON sysfs tree as the kernel lays it out: one kdamond, one context, one scheme."""
    kdamond = root / "0"
    scheme = kdamond / "contexts/0/schemes/0"
    (scheme / "access_pattern/age").mkdir(parents=True)
    (kdamond / "contexts/0/monitoring_attrs/intervals").mkdir(parents=True)
    (kdamond / "state").write_text(state + "\n")
    (scheme / "action").write_text(action + "\n")
    (scheme / "access_pattern/age/min").write_text(f"{age}\n")
    (kdamond / "contexts/0/monitoring_attrs/intervals/aggr_us").write_text(f"{aggr_us}\n")


def test_a_pageout_scheme_is_named_with_its_idle_time(tmp_path: Path) -> None:
    """Age 12 aggregations of 5 s: pages unread for a minute are paged out."""
    _kdamond(tmp_path, "on", "pageout", 12, 5_000_000)
    assert "left unread for 60 s (DAMON pageout)" in reclaim_note(tmp_path)


@pytest.mark.parametrize(("state", "action"), [("off", "pageout"), ("on", "stat")])
def test_no_note_when_nothing_is_paged_out(tmp_path: Path, state: str, action: str) -> None:
    """A stopped kdamond, or a scheme that only counts, changes nothing measured."""
    _kdamond(tmp_path, state, action, 12, 5_000_000)
    assert reclaim_note(tmp_path) == ""


def test_no_note_without_damon(tmp_path: Path) -> None:
    """No such sysfs folder (most hosts, or not readable): nothing to say."""
    assert reclaim_note(tmp_path / "absent") == ""
