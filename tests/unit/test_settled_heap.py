"""Start-up objects are frozen out of the collector's passes, and big caches stay untracked."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitimage.analysis.label_words import label_words
from bitimage.cli import starting


@pytest.fixture
def thawed() -> Iterator[None]:
    """Objects this test freezes go back to the collector afterwards."""
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("thawed")
def test_settle_heap_freezes_what_is_alive() -> None:
    """Every object alive at the call leaves the collector's generations."""

    class Alive:
        """A tracked object made before the call."""

    alive = Alive()
    assert gc.get_freeze_count() == 0
    starting.settle_heap()
    assert gc.get_freeze_count() > 1000
    assert not any(obj is alive for obj in gc.get_objects())


@pytest.mark.parametrize("factory", ["api_app", "cas_app"])
def test_each_server_process_settles_its_heap(
    factory: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app factory of `serve --processes N` freezes once the app is built."""
    calls: list[int] = []
    monkeypatch.setenv("BITIMAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(starting, "settle_heap", lambda: calls.append(1))
    application = getattr(starting, factory)()
    try:
        assert calls == [1]
    finally:
        application.state.container.close()


def test_the_label_typo_index_is_not_walked_by_the_collector() -> None:
    """Its ~77,000 entries are tuples of strings, which the collector stops tracking."""
    index = label_words()._by_delete
    gc.collect()
    assert len(index) > 10_000
    assert not any(gc.is_tracked(words) for words in index.values())
