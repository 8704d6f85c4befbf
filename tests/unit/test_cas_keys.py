"""The CAS key file: rotation, what the JWKS publishes, and servers following a rotation."""

from __future__ import annotations

import stat
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from bitimage.cas.keys import KeyRing, load_or_create_keys, parse_keys, rotate_keys
from bitimage.cas.tokens import InvalidToken, RingKeySource, TokenIssuer, TokenVerifier
from bitimage.cli.main import app

ISSUER = "http://images.example.test/cas"
TTL = 3600


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _server(path: Path) -> tuple[TokenIssuer, TokenVerifier]:
    """What bootstrap wires for one server process: an issuer and a verifier on the file."""
    ring = KeyRing(path)
    return TokenIssuer(ring, ISSUER, TTL), TokenVerifier(RingKeySource(ring), ISSUER)


def test_rotation_signs_with_the_new_key_and_keeps_old_tokens_valid(tmp_path: Path) -> None:
    path = tmp_path / "cas.pem"
    issuer, verifier = _server(path)
    other_issuer, other_verifier = _server(path)  # a second server sharing the file
    user = uuid.uuid4()
    old_token = issuer.issue(user, "a@example.com")
    first_kid = _kid(old_token)

    report = rotate_keys(path, TTL)
    assert report.kept == [first_kid]
    assert report.dropped == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # Both running servers follow the file: new tokens carry the new kid, the JWKS has both.
    new_token = other_issuer.issue(user, "a@example.com")
    assert _kid(new_token) == report.signing != first_kid
    assert _kid(issuer.issue(user, "a@example.com")) == report.signing
    assert [key["kid"] for key in issuer.jwks()["keys"]] == [report.signing, first_kid]
    for check in (verifier, other_verifier):
        assert check.verify(old_token).user_id == user
        assert check.verify(new_token).user_id == user


def test_keys_retired_longer_ago_than_a_token_lives_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "cas.pem"
    issuer, _ = _server(path)
    old_token = issuer.issue(uuid.uuid4(), "a@example.com")
    now = datetime.now(UTC)
    second = rotate_keys(path, TTL, now=now)
    third = rotate_keys(path, TTL, now=now + timedelta(seconds=TTL + 61))
    assert third.dropped == [_kid(old_token)]  # retired by `second`, over a token's life ago
    assert third.kept == [second.signing]
    _, fresh_verifier = _server(path)
    with pytest.raises(InvalidToken, match="unknown key"):
        fresh_verifier.verify(old_token)


def test_concurrent_rotations_lose_no_key(tmp_path: Path) -> None:
    path = tmp_path / "cas.pem"
    load_or_create_keys(path)
    barrier = threading.Barrier(4)
    signed: list[str] = []

    def rotate() -> None:
        barrier.wait()
        signed.append(rotate_keys(path, TTL).signing)

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kids = [item.kid for item in parse_keys(path.read_text(), path)]
    assert len(kids) == 5
    assert set(signed) <= set(kids)
    assert kids[-1] in signed


def test_a_plain_pem_key_file_still_loads(tmp_path: Path) -> None:
    """The single-key file earlier versions wrote (and what an operator may bring)."""
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "cas_ed25519.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    issuer, verifier = _server(path)
    token = issuer.issue(uuid.uuid4(), "a@example.com")
    assert verifier.verify(token).email == "a@example.com"
    assert jwt.decode(token, key.public_key(), algorithms=["EdDSA"], issuer=ISSUER)
    rotated = rotate_keys(path, TTL)
    assert rotated.kept == [_kid(token)]


def test_a_broken_key_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.pem"
    path.write_text("not a key\n")
    monkeypatch.setenv("BITIMAGE_CAS_KEY_FILE", str(path))
    done = CliRunner().invoke(app, ["cas", "rotate-key", "--data-dir", str(tmp_path)])
    assert done.exit_code == 2
    assert "holds no PEM private key" in done.stderr


def test_the_cli_rotates_and_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shared" / "cas.pem"
    monkeypatch.setenv("BITIMAGE_CAS_KEY_FILE", str(path))
    first = load_or_create_keys(path)[0].kid
    runner = CliRunner()
    rotated = runner.invoke(app, ["cas", "rotate-key", "--data-dir", str(tmp_path)])
    assert rotated.exit_code == 0, rotated.output
    new = parse_keys(path.read_text(), path)[-1].kid
    assert f"new signing key {new}" in rotated.stdout
    listed = runner.invoke(app, ["cas", "keys", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].startswith(f"{new}  signing")
    assert lines[1].startswith(f"{first}  verifying")
    mixed = runner.invoke(app, ["cas", "--port", "9", "rotate-key"])
    assert mixed.exit_code == 2
    assert "after `rotate-key`" in mixed.stderr
