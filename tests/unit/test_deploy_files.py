"""compose.yaml and the Dockerfile cannot run here (no Docker engine): check what can be.

Every BITIMAGE_* variable they set must be a setting that loads, every command they run must
parse as a `bitimage` command line, and the image installs the backends but not nudenet by default.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import typer.main
import yaml
from typer.core import TyperGroup

from bitimage.cli.main import app
from bitimage.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _check_command(words: list[str]) -> None:
    assert words[0] == "bitimage", words
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    command = group.get_command(typer.Context(group), words[1])
    assert command is not None, f"no such command: bitimage {words[1]}"
    command.make_context(words[1], list(words[2:]))  # raises on an unknown option or bad value


def _check_environment(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    load_settings()  # an unknown or unsafe setting raises SettingsError


def test_compose_file(monkeypatch: pytest.MonkeyPatch) -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "beanstalkd", "minio", "api", "worker"} <= set(services)
    for name in ("migrate", "api", "worker"):
        service = services[name]
        assert service["build"] == "."
        _check_command(service["command"])
        with monkeypatch.context() as patch:
            _check_environment(service["environment"], patch)
    api_env = services["api"]["environment"]
    assert api_env["BITIMAGE_DATABASE_URL"].startswith("postgresql://")
    assert api_env["BITIMAGE_STORAGE_URL"].startswith("s3://")
    assert api_env["BITIMAGE_QUEUE_URL"].startswith("beanstalk://")
    # Pre-signed URLs name a host clients reach, and that port is published to them.
    public = urlsplit(api_env["BITIMAGE_S3_PUBLIC_ENDPOINT_URL"])
    assert public.hostname not in (None, urlsplit(api_env["BITIMAGE_S3_ENDPOINT_URL"]).hostname)
    published = {str(port).split(":")[-2] for port in services["minio"]["ports"]}
    assert str(public.port) in published


def test_dockerfile(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(stages) == 2
    assert all("slim" in stage for stage in stages)
    assert re.search(r"^USER (?!root)\w+", text, flags=re.MULTILINE), (
        "the image must not run as root"
    )
    # The extras come from a build argument whose default is the backends, not `people`
    # (nudenet is AGPL-3.0: opt-in), and every extra it names exists.
    assert re.findall(r"pip install [^\n]*\"\.\[(\$\{EXTRAS\})\]\"", text) == ["${EXTRAS}"]
    (default,) = re.findall(r"^ARG EXTRAS=(\S+)$", text, flags=re.MULTILINE)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert default.split(",") == ["postgres", "s3", "beanstalk"]
    assert set(default.split(",")) <= set(project["optional-dependencies"])
    assert "people" in project["optional-dependencies"]
    env = dict(re.findall(r"(BITIMAGE_\w+)=(\S+)", text))
    assert env, "the image sets its BITIMAGE_* defaults"
    _check_environment(env, monkeypatch)
    _check_command(json.loads(re.findall(r"^CMD (.+)$", text, flags=re.MULTILINE)[-1]))
