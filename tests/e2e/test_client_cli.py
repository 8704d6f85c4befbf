"""The `bitimage` client commands and the SDK against a real `bitimage serve` on a socket."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.main import get_command

from bitimage.cli.main import app
from bitimage.client import Client, NotFound, NotifyImage, UploadFile, UploadProgress
from tests.servers import clean_env, running
from tests.support import PASSWORD, make_jpeg, md5, phone_heic


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`bitimage serve` on embedded defaults, without the analysis worker."""
    data = tmp_path_factory.mktemp("server")
    env = clean_env(BITIMAGE_RUN_WORKER="false")
    with running(["serve", "--data-dir", str(data)], env, data / "server.log") as served:
        yield served.base


class Cli:
    """Runs `python -m bitimage.cli` with its own config folder, against one server."""

    def __init__(self, base: str, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
        self.env.update(BITIMAGE_SERVER=base, XDG_CONFIG_HOME=str(home / "config"), HOME=str(home))

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        answer = subprocess.run(
            [sys.executable, "-m", "bitimage.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.home,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in answer.stderr, answer.stderr
        return answer

    @property
    def credentials(self) -> Path:
        return self.home / "config" / "bitimage" / "credentials.json"


@pytest.fixture
def cli(server: str, tmp_path: Path) -> Cli:
    return Cli(server, tmp_path)


def _photo_tree(root: Path) -> dict[str, bytes]:
    """Ten good images in nested folders (one named in capitals), a truncated JPEG, a PDF named
    .jpg, and what else a photo folder holds: a PDF, a sidecar, Thumbs.db and a hidden file."""
    good = {
        **{f"photos/day{n}.jpg": make_jpeg(seed=n) for n in range(5)},
        "photos/IMG_0042.JPG": make_jpeg(seed=9),
        "photos/trip/beach.png": make_jpeg(seed=10, fmt="PNG"),
        "photos/trip/sunset.jpg": make_jpeg(seed=11),
        "photos/trip/deeper/cat.gif": make_jpeg(seed=12, fmt="GIF"),
        "photos/trip/deeper/dog.webp": make_jpeg(seed=13, fmt="WEBP"),
    }
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" * 20
    bad = {"photos/broken.jpg": make_jpeg(400, 300, seed=14)[:1500], "photos/scan.jpg": pdf}
    other = {
        "photos/trip/x.pdf": pdf,
        "photos/day0.jpg.xmp": b"<x:xmpmeta/>",
        "photos/Thumbs.db": b"\0" * 64,
        "photos/.thumbs.jpg": make_jpeg(seed=15),
    }
    for name, data in {**good, **bad, **other}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return good


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_batch_upload_walkthrough(cli: Cli, tmp_path: Path) -> None:
    signup = cli("signup", "--email", "shopify@email.com", "--password-stdin", stdin=PASSWORD)
    assert signup.returncode == 0, signup.stderr
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.credentials.parent.stat().st_mode) == 0o700
    who = cli("whoami", "--json")
    assert json.loads(who.stdout)["image_upload_count"] == 0
    assert json.loads(who.stdout)["email"] == "shopify@email.com"

    good = _photo_tree(tmp_path)
    dry = cli("upload", "photos", "--recursive", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {Path(f["path"]).as_posix() for f in json.loads(dry.stdout)["files"]}
    assert planned == {*good, "photos/broken.jpg", "photos/scan.jpg"}
    assert json.loads(cli("whoami", "--json").stdout)["image_upload_count"] == 0  # sent nothing

    first = cli("upload", "photos", "--recursive", "--tag", "holiday", "--json")
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    assert (report["uploaded"], report["skipped"], report["failed"]) == (10, 0, 2)
    by_path = {Path(f["path"]).as_posix(): f for f in report["files"]}
    assert set(by_path) == {*good, "photos/broken.jpg", "photos/scan.jpg"}
    for name in good:
        assert by_path[name]["status"] == "uploaded"
        assert by_path[name]["md5"] == md5(good[name])
    scan, broken = by_path["photos/scan.jpg"], by_path["photos/broken.jpg"]
    assert scan["status"] == broken["status"] == "failed"
    assert scan["reason"] == "The file is not a supported image: the content is pdf"
    assert "truncated" in broken["reason"]
    assert not UUID.search(scan["reason"] + broken["reason"])  # the path names the file
    ignored = {Path(f["path"]).as_posix(): f["reason"] for f in report["ignored_files"]}
    assert ignored == {
        "photos/trip/x.pdf": "not an image: a .pdf file",
        "photos/day0.jpg.xmp": "not an image: a .xmp file",
        "photos/Thumbs.db": "not an image: a .db file",
        "photos/.thumbs.jpg": "hidden file",
    }
    assert report["ignored"] == 4

    # Without --json: one line per refused file with the server's reason once, a summary, exit 1.
    again = cli("upload", "photos", "-r")
    assert again.returncode == 1
    failures = again.stderr.strip().splitlines()
    assert len(failures) == 2
    assert "bitimage: photos/scan.jpg: The file is not a supported image: the content is pdf" in (
        failures
    )
    assert any("broken.jpg" in line and "truncated" in line for line in failures)
    for line in failures:
        assert not UUID.search(line)
        assert line.count("supported") <= 1
    assert "0 uploaded, 10 skipped" in again.stdout
    assert "4 other files ignored" in again.stdout
    assert "--verbose lists them" in again.stdout
    assert "x.pdf" not in again.stdout
    verbose = cli("upload", "photos", "-r", "--verbose")
    assert "ignored: photos/trip/x.pdf (not an image: a .pdf file)" in verbose.stdout
    assert "ignored: photos/.thumbs.jpg (hidden file)" in verbose.stdout

    # With the refused files gone, the same command uploads nothing and succeeds: the PDF,
    # the sidecar and Thumbs.db still there are ignored, never a failure.
    (tmp_path / "photos/scan.jpg").unlink()
    (tmp_path / "photos/broken.jpg").unlink()
    second = cli("upload", "photos", "--recursive", "--tag", "holiday", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["skipped"] == 10
    assert json.loads(second.stdout)["uploaded"] == 0
    assert json.loads(second.stdout)["ignored"] == 4
    assert json.loads(cli("whoami", "--json").stdout)["image_upload_count"] == 10

    # Globs: --include replaces the image extensions, --exclude leaves files out.
    pdfs = cli("upload", "photos", "-r", "--include", "*.PDF", "--dry-run")
    assert pdfs.returncode == 0
    assert [line for line in pdfs.stdout.splitlines() if line.startswith("would")] == [
        "would upload: photos/trip/x.pdf"
    ]
    no_trip = json.loads(
        cli("upload", "photos", "-r", "--exclude", "trip/*", "--dry-run", "--json").stdout
    )
    assert not [f for f in no_trip["files"] if "trip" in f["path"]]
    assert {f["reason"] for f in no_trip["ignored_files"] if "trip" in f["path"]} == {
        "excluded by 'trip/*'"
    }

    table = cli("search", "--tag", "holiday")
    assert table.returncode == 0
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["ID", "NAME", "FORMAT", "SIZE", "PIXELS", "VISIBILITY", "CREATED"]
    assert len(lines) == 11
    beach = next(line.split() for line in lines if " beach " in line)
    assert beach[2:5] == ["png", str(len(good["photos/trip/beach.png"])), "64x48"]
    assert "SIZE in bytes" in table.stderr

    found = json.loads(cli("search", "--name", "sunst", "--json").stdout)
    assert [image["name"] for image in found] == ["sunset"]
    limited = json.loads(cli("search", "--limit", "4", "--json").stdout)
    assert len(limited) == 4
    assert json.loads(cli("search", "--public", "--json").stdout) == []

    sunset = found[0]["id"]
    shown = cli("show", sunset)
    assert "holiday" in shown.stdout
    assert md5(good["photos/trip/sunset.jpg"]) in shown.stdout
    assert json.loads(cli("show", sunset, "--json").stdout)["tags"][0]["name"] == "holiday"

    got = cli("get", sunset)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "sunset.jpg").read_bytes() == good["photos/trip/sunset.jpg"]
    assert cli("get", sunset).returncode == 1  # never overwrites a file it picked itself
    assert cli("get", sunset, "--output", "copy.bin").returncode == 0
    assert (tmp_path / "copy.bin").read_bytes() == good["photos/trip/sunset.jpg"]
    (tmp_path / "copy.bin").write_bytes(b"mine")
    kept = cli("get", sunset, "--output", "copy.bin")
    assert kept.returncode == 1
    assert (
        kept.stderr
        == "bitimage: copy.bin exists; choose another file with --output, or add --force\n"
    )
    assert (tmp_path / "copy.bin").read_bytes() == b"mine"
    assert cli("get", sunset, "--output", "copy.bin", "--force").returncode == 0
    assert (tmp_path / "copy.bin").read_bytes() == good["photos/trip/sunset.jpg"]

    edited = cli("edit", sunset, "--name", "Sunset over the bay", "--tag", "bay", "--public",
                 "--json")  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    assert json.loads(edited.stdout)["name"] == "Sunset over the bay"
    assert [t["name"] for t in json.loads(edited.stdout)["tags"]] == ["bay"]
    public = json.loads(cli("search", "--public", "--tag", "bay", "--json").stdout)
    assert [image["id"] for image in public] == [sunset]
    assert cli("edit", sunset).returncode == 2  # nothing to change
    assert cli("edit", sunset, "--tag", "x", "--no-tags").returncode == 2
    assert cli("edit", sunset, "--private", "--no-tags").returncode == 0
    assert json.loads(cli("search", "--public", "--json").stdout) == []

    deleted = cli("delete", sunset)
    assert deleted.returncode == 0
    missing = cli("show", sunset)
    assert missing.returncode == 1
    assert missing.stderr.startswith("bitimage: Resource not found: ")
    assert sunset in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    refused = cli("account", "delete", stdin="n\n")
    assert refused.returncode == 1
    assert json.loads(cli("whoami", "--json").stdout)["image_upload_count"] == 9
    gone = cli("account", "delete", "--yes")
    assert gone.returncode == 0, gone.stderr
    after = cli("whoami")
    assert after.returncode == 1
    assert "Resource not found" in after.stderr


def test_a_phone_folder_with_heic_uploads_and_exits_0(cli: Cli, tmp_path: Path) -> None:
    signup = cli("signup", "--email", "phone@example.com", "--password-stdin", stdin=PASSWORD)
    assert signup.returncode == 0, signup.stderr
    camera = tmp_path / "DCIM" / "100APPLE"
    camera.mkdir(parents=True)
    (camera / "IMG_0001.HEIC").write_bytes(phone_heic())
    (camera / "IMG_0002.jpg").write_bytes(make_jpeg(seed=21))
    (camera / "IMG_0001.AAE").write_bytes(b"<?xml version='1.0'?><plist/>")  # an edit sidecar
    sent = cli("upload", "DCIM", "-r", "--json")
    assert sent.returncode == 0, sent.stderr
    report = json.loads(sent.stdout)
    assert (report["uploaded"], report["failed"], report["ignored"]) == (2, 0, 1)
    found = {image["name"]: image for image in json.loads(cli("search", "--json").stdout)}
    assert (found["IMG_0001"]["file_format"], found["IMG_0001"]["width"]) == ("heic", 448)
    assert found["IMG_0002"]["file_format"] == "jpeg"


def test_login_creates_the_account_and_logout_forgets_the_token(cli: Cli, server: str) -> None:
    creds = {"email": "late@example.com", "password": PASSWORD}
    assert httpx.post(f"{server}/cas/signup", json=creds).status_code == 201

    assert cli("whoami").returncode == 1
    wrong = cli("login", "--email", "late@example.com", "--password-stdin", stdin="nope\n")
    assert wrong.returncode == 1
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert wrong.stderr.startswith("bitimage: Authorization failed: ")
    assert "bitimage login" not in wrong.stderr  # no advice to do what just failed
    login = cli("login", "--email", "late@example.com", "--password-stdin", stdin=PASSWORD)
    assert login.returncode == 0, login.stderr
    assert "account created" in login.stdout
    saved = json.loads(cli.credentials.read_text())["servers"][server]
    assert saved["email"] == "late@example.com"
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert cli("whoami").returncode == 0
    again = cli("login", "--email", "late@example.com", "--password-stdin", stdin=PASSWORD)
    assert "account created" not in again.stdout  # it exists now

    assert cli("logout").returncode == 0
    assert server not in json.loads(cli.credentials.read_text())["servers"]
    out = cli("search")
    assert out.returncode == 1
    assert out.stderr.startswith("bitimage: not logged in to")


def test_token_variable_overrides_the_saved_one(cli: Cli, server: str, tmp_path: Path) -> None:
    assert (
        cli("signup", "--email", "env@example.com", "--password-stdin", stdin=PASSWORD).returncode
        == 0
    )
    from_env = "the token comes from BITIMAGE_TOKEN: set a valid one, or unset it to use your login"
    bad = cli("search", env={"BITIMAGE_TOKEN": "not-a-token"})
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("bitimage: Authorization failed:")
    assert bad.stderr.endswith(f"({from_env})\n")
    # Read locally (whoami decodes the token's claims): not a JWT at all.
    unreadable = cli("whoami", env={"BITIMAGE_TOKEN": "not-a-token"})
    assert unreadable.returncode == 1
    assert unreadable.stderr == f"bitimage: BITIMAGE_TOKEN is not a token (not a JWT); {from_env}\n"
    token = json.loads(cli.credentials.read_text())["servers"][server]["token"]
    cli.credentials.unlink()
    good = cli("search", "--json", env={"BITIMAGE_TOKEN": token})
    assert good.returncode == 0
    assert json.loads(good.stdout) == []
    other = cli("whoami", "--server", "http://127.0.0.1:9", env={})
    assert other.returncode == 1
    assert "not logged in to http://127.0.0.1:9" in other.stderr

    # A saved token that is not a JWT (a hand-edited file) is the saved token's fault.
    cli.credentials.write_text(json.dumps({"servers": {server: {"token": "garbage"}}}))
    saved = cli("whoami")
    assert saved.returncode == 1
    assert saved.stderr == (
        f"bitimage: the token saved for {server} is malformed: run `bitimage login`\n"
    )


def _every_command(command: Any, path: list[str]) -> Iterator[list[str]]:
    # Any: typer builds its commands on a click of its own (typer._click), private to it
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _every_command(sub, [*path, name])


def test_version_and_help_name_values_not_types(cli: Cli) -> None:
    version = cli("--version")
    assert version.returncode == 0
    assert version.stdout == f"bitimage {metadata.version('bitimage')}\n"
    commands = list(_every_command(get_command(app), []))
    assert ["account", "delete"] in commands
    assert ["cas", "rotate-key"] in commands
    for command in commands:  # every command and group, also those added later
        shown = cli(*command, "--help", env={"COLUMNS": "200"})
        assert shown.returncode == 0, command
        assert not re.search(r"<[a-z][\w\[\], ]*>", shown.stdout), (command, shown.stdout)
    upload = cli("upload", "--help", env={"COLUMNS": "200"}).stdout
    for part in ("PATH...", "--tag  ", "TAG", "--include", "GLOB", "--dry-run", "--verbose"):
        assert part in upload


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("upload", "no-such-folder").returncode == 2
    assert cli("delete", "not-an-id").returncode == 2
    assert cli("show", "42").returncode == 2
    assert cli("upload", ".", "--concurrency", "0").returncode == 2
    assert cli("upload", ".", "--tag", "x" * 65).returncode == 2


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other end is closed
        return b""


def test_progress_bar_only_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    assert (
        cli("signup", "--email", "tty@example.com", "--password-stdin", stdin=PASSWORD).returncode
        == 0
    )
    folder = tmp_path / "pics"
    folder.mkdir()
    for n in range(3):
        (folder / f"p{n}.jpg").write_bytes(make_jpeg(seed=100 + n))
    plain = cli("upload", str(folder))
    assert plain.returncode == 0
    assert plain.stderr == ""
    (folder / "p3.jpg").write_bytes(make_jpeg(seed=200))
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bitimage.cli", "upload", str(folder)],
        env={**cli.env, "COLUMNS": "120"},
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    drawn = b""
    try:
        while piece := _read_pty(leader):
            drawn += piece
    finally:
        os.close(leader)
    stdout = process.communicate(timeout=60)[0]
    assert process.returncode == 0
    assert b"4/4 files" in drawn
    assert b"uploading" in drawn
    assert b"1 uploaded, 3 skipped" in stdout


def test_sdk_uploads_file_objects_and_reports_progress(server: str) -> None:
    with Client(server) as bit:
        bit.signup("sdk@example.com", PASSWORD)
        bit.login("sdk@example.com", PASSWORD)
        assert bit.ensure_account() is True
        assert bit.ensure_account() is False
        seen: list[int] = []
        read_end, write_end = os.pipe()
        payloads = [make_jpeg(seed=300 + n) for n in range(3)]
        with os.fdopen(write_end, "wb") as pipe_in:
            pipe_in.write(payloads[2])
        with os.fdopen(read_end, "rb") as pipe_out:
            report = bit.upload(
                [
                    UploadFile(io.BytesIO(payloads[0]), name="from memory", tags=["mem"]),
                    UploadFile(pipe_out, name="from a pipe", is_private=False),
                    io.BytesIO(payloads[1]),
                    io.BytesIO(payloads[0]),  # the same bytes twice in one run
                ],
                progress=lambda p: seen.append(p.files_done),
            )
        # Either copy of the repeated bytes may be the one uploaded; the other is skipped.
        assert sorted(f.status for f in report.files) == ["skipped"] + ["uploaded"] * 3
        assert [f.status for f in report.files[1:3]] == ["uploaded", "uploaded"]
        assert "same bytes as" in str(report.skipped[0].reason)
        assert seen[-1] == 4
        assert seen == sorted(seen)
        paged = [image.id for image in bit.search(limit=3, page_size=2)]
        assert len(set(paged)) == 3  # two pages, nothing repeated
        assert [i.id for i in bit.search(page_size=1)] == [i.id for i in bit.search()]
        public = list(bit.search(public=True))
        assert [image.name for image in public] == ["from a pipe"]
        assert bit.find_by_hash(md5(payloads[2])) is not None
        out = io.BytesIO()
        shown = bit.download(public[0].id, out)
        assert out.getvalue() == payloads[2]
        assert shown.hash == md5(payloads[2])
        rerun: list[UploadProgress] = []
        again = bit.upload([io.BytesIO(p) for p in payloads], progress=rerun.append)
        assert [f.status for f in again.files] == ["skipped"] * 3
        # Reading the files to look them up is hashing, not uploading: nothing was sent.
        total = sum(len(p) for p in payloads)
        assert (rerun[-1].bytes_hashed, rerun[-1].bytes_sent, rerun[-1].bytes_to_send) == (
            total,
            0,
            0,
        )
        me = bit.me()
        assert (me.email, me.image_upload_count) == ("sdk@example.com", 3)
        edited = bit.edit(public[0].id, name="renamed", tags=["a", "b"], is_private=True)
        assert (edited.name, [t.name for t in edited.tags]) == ("renamed", ["a", "b"])
        assert list(bit.search(public=True)) == []
        assert [i.name for i in bit.search(tag="b")] == ["renamed"]
        bit.delete_images([public[0].id])
        with pytest.raises(NotFound) as caught:
            bit.expanded(public[0].id)
        assert caught.value.status == 404
        assert str(public[0].id) in caught.value.message
        bit.delete_account()


def test_duplicates_and_similar_from_the_sdk_and_the_cli(cli: Cli, server: str) -> None:
    # No worker here, so no dHash: the same bytes kept twice are the duplicates to find.
    photo, other = make_jpeg(seed=400), make_jpeg(seed=401)
    with Client(server) as bit:
        bit.signup("copies@example.com", PASSWORD)
        bit.login("copies@example.com", PASSWORD)
        bit.ensure_account()
        urls = bit.upload_urls(3)
        for url, payload in zip(urls, (photo, photo, other), strict=True):
            assert httpx.put(url.url, content=payload).status_code == 200
        bit.notify(
            [
                NotifyImage(id=url.image_id, name=name, hash=md5(payload))
                for url, name, payload in zip(
                    urls, ("first", "second", "other"), (photo, photo, other), strict=True
                )
            ]
        )
        first, second = urls[0].image_id, urls[1].image_id
        groups = list(bit.duplicates())
        assert [[e.image.id for e in g.images] for g in groups] == [[first, second]]
        assert groups[0].images[1].exact
        found = bit.similar(first)
        assert [e.image.id for e in found.images] == [second]
        assert found.images[0].distance is None  # not analysed
        assert bit.similar(urls[2].image_id).images == []
        # Look-alikes need the classifier's embedding: none before analysis.
        alike = bit.similar(first, kind="visual", limit=5)
        assert (alike.kind, alike.max_distance, alike.images) == ("visual", None, [])
        token = bit.token
    assert token is not None
    env = {"BITIMAGE_TOKEN": token}
    listed = cli("duplicates", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [[e["image"]["name"] for e in g["images"]] for g in json.loads(listed.stdout)] == [
        ["first", "second"]
    ]
    text = cli("duplicates", env=env)
    assert "group 1: 2 images" in text.stdout
    assert "same bytes" in text.stdout
    copies = cli("similar", str(first), "--json", env=env)
    assert copies.returncode == 0, copies.stderr
    assert [e["image"]["name"] for e in json.loads(copies.stdout)["images"]] == ["second"]
    none = cli("similar", str(urls[2].image_id), env=env)
    assert (none.returncode, none.stderr.strip()) == (0, "no copies found")
    assert cli("similar", "not-an-id", env=env).returncode == 2
    looked = cli("similar", str(first), "--visual", env=env)
    assert (looked.returncode, looked.stderr.strip()) == (0, "no look-alikes found")
    alike_json = cli("similar", str(first), "--visual", "--json", env=env)
    assert json.loads(alike_json.stdout)["kind"] == "visual"
    assert cli("similar", str(first), "--visual", "--max-distance", "3", env=env).returncode == 2
    assert cli("duplicates", "--max-distance", "13", env=env).returncode == 2
