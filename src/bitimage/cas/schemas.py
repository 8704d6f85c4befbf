"""CAS request and response bodies."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from bitimage.textrules import EMAIL, NOT_BLANK

# The service checks the same length; stating it here puts it in /openapi.json.
MIN_PASSWORD_LENGTH = 8

Email = Annotated[
    str,
    Field(
        max_length=320,
        pattern=EMAIL,
        description="an email address (no spaces, control or format characters)",
        examples=["shopify@email.com"],
    ),
    AfterValidator(str.lower),
]


class Credentials(BaseModel):
    """An email and a password."""

    email: Email
    password: str = Field(max_length=1024, examples=["ecommerce_2021"])


class SignupCredentials(BaseModel):
    """An email and a new password: 8 characters or more, not all white space."""

    email: Email
    password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=1024,
        pattern=NOT_BLANK,
        description=f"at least {MIN_PASSWORD_LENGTH} characters, not all white space",
        examples=["ecommerce_2021"],
    )


class SignupAnswer(BaseModel):
    """A new CAS account."""

    user_id: uuid.UUID
    email: str


class LoginAnswer(BaseModel):
    """The login answer: a signed JWT."""

    status: int = 202
    token: str


class AuthorizeRequest(BaseModel):
    """The remote token check."""

    token: str = Field(max_length=8192)


class AuthorizeAnswer(BaseModel):
    """Whether the token is valid, and for whom."""

    is_user_authorized: bool
    user_id: uuid.UUID | None


class Jwks(BaseModel):
    """A JSON Web Key Set."""

    keys: list[dict[str, Any]]
