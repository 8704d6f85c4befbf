"""`bitimage reanalyze` and `bitimage clear-moderation`: the operator's commands, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from bitimage.cli.main import app
from bitimage.queue.models import Job
from tests.support import app_client, auth, make_container, make_jpeg, make_settings, upload


def test_reanalyze_queues_images_again(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    container = make_container(make_settings(data, database_url=database_url))
    with app_client(container) as client:
        headers = auth(client, "operator@example.com")
        ids = [
            image["id"] for image in upload(client, headers, [make_jpeg(seed=n) for n in range(3)])
        ]
    with container.database.transaction() as session:
        session.execute(delete(Job))  # as if the worker had done them all

    def jobs() -> int:
        with container.database.transaction(write=False) as session:
            return session.scalar(select(func.count()).select_from(Job)) or 0

    monkeypatch.setenv("BITIMAGE_DATABASE_URL", database_url)
    monkeypatch.setenv("BITIMAGE_AUTO_MIGRATE", "false")
    runner = CliRunner()
    done = runner.invoke(app, ["reanalyze", "--all", "--data-dir", str(data)])
    assert done.exit_code == 0, done.output
    assert "queued 3 image(s)" in done.output
    assert jobs() == 3
    one = runner.invoke(
        app, ["reanalyze", "--image", ids[0], "--analyser", "colours", "--data-dir", str(data)]
    )
    assert one.exit_code == 0, one.output
    assert jobs() == 4
    with container.database.transaction(write=False) as session:
        payloads = [job.payload for job in session.scalars(select(Job))]
    assert {"v": 1, "image_id": ids[0], "analysers": ["colours"]} in payloads
    for wrong in (["reanalyze"], ["reanalyze", "--all", "--analyser", "nope"]):
        refused = runner.invoke(app, [*wrong, "--data-dir", str(data)])
        assert refused.exit_code == 2
    cleared = runner.invoke(app, ["clear-moderation", ids[1], "--data-dir", str(data)])
    assert cleared.exit_code == 0, cleared.output
    missing = runner.invoke(app, ["clear-moderation", str(tmp_path.name), "--data-dir", str(data)])
    assert missing.exit_code == 2
    container.close()
