"""GroupCommitter: callers that arrive while a group runs share the next one, each run once."""

from __future__ import annotations

import threading
import time

import pytest

from bitimage.db.group_commit import GroupCommitter

DEADLINE = 10.0


class Recorder:
    """A group runner that holds its first group until released, and records every group."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.groups: list[list[str]] = []
        self.first_running = threading.Event()
        self.release_first = threading.Event()
        self.fail_on = fail_on

    def __call__(self, group: list[str]) -> None:
        self.groups.append(list(group))
        if len(self.groups) == 1:
            self.first_running.set()
            assert self.release_first.wait(DEADLINE)
        if self.fail_on in group:
            raise RuntimeError("the group failed")


def _start(committer: GroupCommitter[str], request: str) -> threading.Thread:
    thread = threading.Thread(target=committer.submit, args=(request,))
    thread.start()
    return thread


def _wait_until_queued(committer: GroupCommitter[str], count: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while committer.waiting < count:  # the followers reach the queue on their own threads
        assert time.monotonic() < deadline, f"only {committer.waiting} of {count} queued"
        time.sleep(0.001)


def _run_behind_a_leader(committer: GroupCommitter[str], runner: Recorder, count: int) -> None:
    leader = _start(committer, "first")
    assert runner.first_running.wait(DEADLINE)
    followers = [_start(committer, f"r{n}") for n in range(count)]
    _wait_until_queued(committer, count)
    runner.release_first.set()
    for thread in [leader, *followers]:
        thread.join(DEADLINE)
        assert not thread.is_alive()


def test_a_lone_request_runs_at_once_in_its_own_group() -> None:
    groups: list[list[str]] = []
    committer = GroupCommitter(groups.append)
    committer.submit("only")
    committer.submit("next")
    assert groups == [["only"], ["next"]]


def test_callers_waiting_behind_a_leader_share_the_next_group() -> None:
    runner = Recorder()
    committer = GroupCommitter(runner)
    _run_behind_a_leader(committer, runner, 5)
    assert runner.groups[0] == ["first"]
    assert len(runner.groups) == 2
    assert sorted(runner.groups[1]) == [f"r{n}" for n in range(5)]
    assert committer.waiting == 0


def test_groups_are_capped_and_keep_arrival_order() -> None:
    runner = Recorder()
    committer = GroupCommitter(runner, max_group=2)
    _run_behind_a_leader(committer, runner, 5)
    assert [len(group) for group in runner.groups] == [1, 2, 2, 1]
    every = [request for group in runner.groups[1:] for request in group]
    assert sorted(every) == [f"r{n}" for n in range(5)]


def test_a_failing_group_frees_its_callers_and_the_next_group_runs() -> None:
    runner = Recorder(fail_on="first")
    committer = GroupCommitter(runner)
    errors: list[BaseException] = []

    def leader() -> None:
        try:
            committer.submit("first")
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=leader)
    thread.start()
    assert runner.first_running.wait(DEADLINE)
    runner.release_first.set()
    thread.join(DEADLINE)
    assert [str(error) for error in errors] == ["the group failed"]
    committer.submit("after")
    assert runner.groups == [["first"], ["after"]]


def test_a_request_is_never_run_twice_under_load() -> None:
    runs: list[str] = []
    lock = threading.Lock()

    def run(group: list[str]) -> None:
        with lock:
            runs.extend(group)

    committer = GroupCommitter(run, max_group=3)
    threads = [_start(committer, f"r{n}") for n in range(200)]
    for thread in threads:
        thread.join(DEADLINE)
    assert sorted(runs) == sorted(f"r{n}" for n in range(200))


@pytest.mark.parametrize("max_group", [1, 16])
def test_each_caller_returns_only_after_its_own_request_ran(max_group: int) -> None:
    ran: set[str] = set()
    committer = GroupCommitter[str](lambda group: ran.update(group), max_group=max_group)
    seen_before_return: list[bool] = []

    def caller(name: str) -> None:
        committer.submit(name)
        seen_before_return.append(name in ran)

    threads = [threading.Thread(target=caller, args=(f"c{n}",)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert seen_before_return == [True] * 50
