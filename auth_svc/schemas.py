"""The JSON answers of auth_svc's HTTP API, as the handlers render them and its OpenAPI document describes them."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from servicekit.openapi_models import Timestamp


class User(BaseModel):
    id: uuid.UUID
    email: str = Field(json_schema_extra={"format": "email"})
    name: str | None
    created_at: Timestamp


class Token(BaseModel):
    access_token: str = Field(description="RS256 JWT; header `kid` names the key.")
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=1, description="Seconds.")


class Session(BaseModel):
    """The signed-in user and when the session's token expires; the token itself is only in the HttpOnly cookie."""

    user: User
    expires_at: Timestamp
    expires_in: int = Field(ge=0, description="Seconds.")


class AccountDeleted(BaseModel):
    user_id: uuid.UUID
    deleted_at: Timestamp


class PublicKey(BaseModel):
    kty: Literal["RSA"]
    kid: str
    use: Literal["sig"]
    alg: Literal["RS256"]
    n: str
    e: str


class JWKS(BaseModel):
    keys: list[PublicKey] = Field(min_length=1)


class Alive(BaseModel):
    status: Literal["ok"]
