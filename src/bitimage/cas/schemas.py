"""CAS request and response bodies."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import BaseModel, Field, field_validator

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class Credentials(BaseModel):
    """An email and a password."""

    email: str = Field(max_length=320, examples=["shopify@email.com"])
    password: str = Field(min_length=1, max_length=1024, examples=["ecommerce_2021"])

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value


class SignupAnswer(BaseModel):
    """A new CAS account."""

    user_id: uuid.UUID
    email: str


class LoginAnswer(BaseModel):
    """The seed's login answer."""

    status: int = 202
    token: str


class AuthorizeRequest(BaseModel):
    """The seed's remote token check."""

    token: str = Field(max_length=8192)


class AuthorizeAnswer(BaseModel):
    """Whether the token is valid, and for whom."""

    is_user_authorized: bool
    user_id: uuid.UUID | None


class Jwks(BaseModel):
    """A JSON Web Key Set."""

    keys: list[dict[str, Any]]
