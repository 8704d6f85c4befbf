"""The job registry: each kind runs its own handler; an unknown kind is given up at once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bitimage.bootstrap import bootstrap
from bitimage.config import Settings
from bitimage.queue.ports import ReservedJob
from bitimage.queue.registry import JobRegistry
from bitimage.queue.worker import PermanentJobError


def _job(kind: str) -> ReservedJob:
    return ReservedJob(uuid.uuid4(), kind, uuid.uuid4(), {}, 1)


def test_each_kind_runs_its_own_handler_and_give_up() -> None:
    registry, seen = JobRegistry(), list[str]()
    registry.register("a", lambda job: seen.append(f"a {job.kind}"))
    registry.register("b", lambda job: seen.append("b"), lambda job, why: seen.append(why))
    registry.handle(_job("a"))
    registry.handle(_job("b"))
    registry.give_up(_job("b"), "gave up")
    registry.give_up(_job("a"), "nobody listens")  # a kind without a give-up hook
    assert seen == ["a a", "b", "gave up"]
    assert registry.kinds == ["a", "b"]


def test_an_unknown_kind_is_a_permanent_failure() -> None:
    with pytest.raises(PermanentJobError, match="unknown job kind 'resize'"):
        JobRegistry().handle(_job("resize"))


def test_a_kind_has_one_handler() -> None:
    registry = JobRegistry()
    registry.register("a", lambda job: None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("a", lambda job: None)


def test_bootstrap_registers_the_analysis_and_render_jobs(tmp_path: Path) -> None:
    container = bootstrap(Settings(data_dir=tmp_path, analysers=""))
    try:
        assert container.jobs.kinds == ["analyze", "render"]
    finally:
        container.close()
