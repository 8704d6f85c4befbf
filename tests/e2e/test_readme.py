"""The README's curl walk-through and SDK example, run from README.md itself against a real server.

The blocks are taken from the README text as it is, so an example that stops working fails
here. What the test changes, and only this:

- the shell block reads `B=${B:-http://127.0.0.1:8000}`: the test sets `B` to its server;
- the SDK block reads `BITIMAGE_SERVER`, which the test sets too, and assumes a signed-up
  account ("bit.signup(...) first, once"), which the test creates before running it;
- `curl` is wrapped in a shell function that also copies each call's answer to a log, after a
  line naming the call, so every answer can be checked (the block's own output is unchanged).

The photos are real ones from scikit-image: `motorbike.jpg` (a motorbike with YAMAHA written on
it, labelled motorcycle and vehicle by the classifier, its text read by OCR) and, for the SDK's
folder, a cup of coffee and a file that is not an image.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from skimage import data

from tests.servers import Server, clean_env, running

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "ecommerce_2021"
EMAIL = "shopify@email.com"

# Copies each curl's output to $CURL_LOG after a line naming the call (its arguments on one
# line); `$(curl ...)` still works.
CURL_LOG = (
    'curl() { printf "\\n@@@ curl %s\\n" "$(echo "$*" | tr "\\n" " ")" >> "$CURL_LOG"; '
    'command curl "$@" | tee -a "$CURL_LOG"; }\n'
)


def fenced(section: str, language: str) -> str:
    """The first ```language block of the README section whose heading starts with `section`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}")
    end = text.find("\n## ", start + 1)
    found = re.search(rf"^```{language}\n(.*?)^```$", text[start:end], re.S | re.M)
    assert found, f"no {language} block in README section {section!r}"
    return found.group(1)


def save_jpeg(pixels: Any, path: Path) -> bytes:
    """A scikit-image sample picture as a JPEG file, as the README says to make it; its bytes.

    4:4:4 (no chroma subsampling): with colour at half resolution, OCR no longer reads the
    motorbike's red YAMAHA (checked with quality 85 to 100).
    """
    Image.fromarray(pixels).convert("RGB").save(path, quality=95, subsampling=0)
    return path.read_bytes()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`bitimage serve` with its embedded worker, as `make run` starts it (one per test: each
    example starts from an empty server, as a reader's would)."""
    with running(["serve", "--data-dir", str(tmp_path / "data")], clean_env(),
                 tmp_path / "server.log") as served:  # fmt: skip
        yield served


def answers(log: str) -> dict[str, str]:
    """Each curl call's answer by the call's arguments (the first call of each wins)."""
    calls: dict[str, str] = {}
    for chunk in log.split("\n@@@ curl ")[1:]:
        call, _, answer = chunk.partition("\n")
        calls.setdefault(call, answer)
    return calls


def answer_of(calls: dict[str, str], *parts: str) -> str:
    """The answer of the one call whose arguments contain every part."""
    matching = [call for call in calls if all(part in call for part in parts)]
    assert len(matching) == 1, (parts, list(calls))
    return calls[matching[0]]


def names(page: str) -> list[str]:
    return [image["name"] for image in json.loads(page)["images"]]


def test_the_curl_walkthrough_answers_what_it_says(server: Server, tmp_path: Path) -> None:
    for tool in ("bash", "curl", "jq", "md5sum"):
        assert shutil.which(tool), f"the walk-through needs {tool}"
    save_jpeg(data.stereo_motorcycle()[0], tmp_path / "motorbike.jpg")
    script = fenced("Walk-through with curl", "bash")
    assert script.startswith("B=${B:-http://127.0.0.1:8000}\n")
    log_path = tmp_path / "curl.log"
    ran = subprocess.run(
        ["bash", "-o", "pipefail", "-c", CURL_LOG + script], cwd=tmp_path,
        env={**clean_env(), "B": server.base, "CURL_LOG": str(log_path)},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    calls = answers(log_path.read_text())

    assert json.loads(answer_of(calls, "/cas/signup"))["email"] == EMAIL
    confirmed = json.loads(answer_of(calls, "/api/v1/images -H"))["images"]
    assert [(i["name"], i["is_private"]) for i in confirmed] == [("redmotorbike", False)]
    image_id = confirmed[0]["id"]
    assert names(answer_of(calls, "name=redmotorbke")) == ["redmotorbike"]
    assert names(answer_of(calls, "tag=street")) == ["redmotorbike"]
    assert names(answer_of(calls, "hash=")) == ["redmotorbike"]
    # curl's answers end without a newline, so jq's lines follow them on the same line.
    seen_line = re.search(r'\{"labels":.*$', ran.stdout, re.M)
    assert seen_line, ran.stdout
    seen = json.loads(seen_line.group(0))
    assert {"motorcycle", "vehicle"} <= set(seen["labels"])
    assert "YAMAHA" in seen["text"]
    assert names(answer_of(calls, "content_label=motorcycle")) == ["redmotorbike"]
    assert names(answer_of(calls, "text=yamaha")) == ["redmotorbike"]
    assert names(answer_of(calls, "public/summary")) == ["redmotorbike"]
    (stranger,) = [answer for call, answer in calls.items() if call.endswith("/expanded ")]
    assert json.loads(stranger)["view_url"].startswith(f"{server.base}/storage/")
    with Image.open(tmp_path / "public-copy.jpg") as copy:
        assert (copy.format, copy.size) == ("JPEG", (741, 500))
    assert answer_of(calls, "-X DELETE", f"id={image_id}") == ""  # 204
    assert answer_of(calls, "-X DELETE", "/api/v1/users/") == ""  # 204
    # Everything went, the login too: the same email signs up again.
    again = httpx.post(f"{server.base}/cas/signup", json={"email": EMAIL, "password": PASSWORD})
    assert again.status_code == 201


def test_the_sdk_example_finds_what_it_uploaded(server: Server, tmp_path: Path) -> None:
    email = "shopify@email.com"
    signup = httpx.post(f"{server.base}/cas/signup", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 201
    photo = save_jpeg(data.stereo_motorcycle()[0], tmp_path / "motorbike.jpg")
    (tmp_path / "photos").mkdir()
    save_jpeg(data.coffee(), tmp_path / "photos" / "coffee.jpg")
    (tmp_path / "photos" / "notes.txt").write_text("not an image\n")
    example = fenced("The `bitimage` client", "python")
    ran = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path,
        env={**clean_env(), "BITIMAGE_SERVER": server.base}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.strip().splitlines()
    assert lines[0] == "2 uploaded, 1 left out (not images)"
    assert lines[1] == f"found motorbike {len(photo)} bytes"
    assert (tmp_path / "motorbike.jpeg").read_bytes() == photo  # the owner's download
    assert "image_upload_count=2" in lines[2]
    assert f"email='{email}'" in lines[2]
    assert len(lines) == 3
