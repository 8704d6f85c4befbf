"""The CAS routes: signup rules, the seed's authorizeUser check, the published keys."""

from __future__ import annotations

import jwt
from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from bitimage.db.base import Base
from tests.support import PASSWORD, auth


def test_authorize_user(client: TestClient) -> None:
    headers = auth(client, "check@example.com")
    token = headers["Authorization"].split()[1]
    good = client.post("/cas/authorizeUser", json={"token": token}).json()
    assert good["is_user_authorized"] is True
    bad = client.post("/cas/authorizeUser", json={"token": token + "x"}).json()
    assert bad == {"is_user_authorized": False, "user_id": None}


def test_token_claims_and_jwks(client: TestClient, container: Container) -> None:
    headers = auth(client, "claims@example.com")
    token = headers["Authorization"].split()[1]
    keys = client.get("/cas/.well-known/jwks.json").json()["keys"]
    assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("OKP", "Ed25519", "EdDSA")]
    public = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(token, public, algorithms=["EdDSA"], issuer=container.settings.issuer)
    assert claims["sub"] == claims["user_id"]
    assert claims["email"] == "claims@example.com"
    assert claims["exp"] > claims["iat"]


def test_signup_rules_and_argon2id(client: TestClient, container: Container) -> None:
    weak = client.post("/cas/signup", json={"email": "weak@example.com", "password": "short"})
    assert weak.status_code == 400
    assert "8 characters" in weak.json()["message"]
    not_email = client.post("/cas/signup", json={"email": "nobody", "password": PASSWORD})
    assert not_email.status_code == 400
    assert (
        client.post(
            "/cas/signup", json={"email": "ok@example.com", "password": PASSWORD}
        ).status_code
        == 201
    )
    table = Base.metadata.tables["cas_accounts"]
    with container.database.engine.connect() as conn:
        stored = conn.execute(table.select()).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
