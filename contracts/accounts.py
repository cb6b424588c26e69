"""The events of users' accounts, published by auth_svc."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from contracts.base import EventData


class UserRegisteredV1(EventData):
    event_type: ClassVar[str] = "auth.user.registered.v1"
    summary: ClassVar[str] = "A user account was created."
    producers: ClassVar[tuple[str, ...]] = ("auth_svc",)

    user_id: UUID
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    registered_at: AwareDatetime

    def subject(self) -> str:
        return str(self.user_id)


class RevocationReason(StrEnum):
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a password
    ACCOUNT_DELETED = "account_deleted"


class TokenRevokedV1(EventData):
    event_type: ClassVar[str] = "auth.token.revoked.v1"
    summary: ClassVar[str] = (
        "Access tokens were revoked before they expire: one token (`jti`), or every token of the user issued "
        "before `not_before`. Every service that verifies tokens refuses them until `expires_at`."
    )
    producers: ClassVar[tuple[str, ...]] = ("auth_svc",)

    user_id: UUID
    jti: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The revoked token's `jti` (a sign-out), or null when `not_before` is set."
    )
    not_before: AwareDatetime | None = Field(
        default=None,
        description="Every token of the user whose `iat` is before this instant (whole seconds) is revoked "
        "(a password change, a deleted account).",
    )
    expires_at: AwareDatetime = Field(
        description="When the revoked tokens have all expired by themselves: the revocation can be forgotten then."
    )
    reason: RevocationReason
    revoked_at: AwareDatetime

    @model_validator(mode="after")
    def _names_what_is_revoked(self) -> TokenRevokedV1:
        if self.jti is None and self.not_before is None:
            raise ValueError("a revocation names a token (jti) or a time (not_before)")
        return self

    def subject(self) -> str:
        return str(self.user_id)


class UserDeletedV1(EventData):
    event_type: ClassVar[str] = "auth.user.deleted.v1"
    summary: ClassVar[str] = (
        "A user deleted their account: every service deletes what it holds about the user (videos, objects, "
        "recipient record, webhook endpoints)."
    )
    producers: ClassVar[tuple[str, ...]] = ("auth_svc",)

    user_id: UUID
    deleted_at: AwareDatetime

    def subject(self) -> str:
        return str(self.user_id)
