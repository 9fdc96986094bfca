"""
The refresh-token family. Tokens are carried only as SHA-256 digests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from events import codec


@dataclass(frozen=True, slots=True)
class RefreshTokenIssued:
    """
    Emitted when a login hands out a refresh token.
    """

    TYPE: ClassVar[str] = "RefreshTokenIssued"
    VERSION: ClassVar[int] = 1
    token_id: str
    digest: str
    user_id: str
    application_id: str
    start_instant: int
    expires_at: int
    auth_time: int
    device: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RefreshTokensRevoked:
    """
    Emitted when refresh tokens are revoked: logout, DELETE, or a policy.
    """

    TYPE: ClassVar[str] = "RefreshTokensRevoked"
    VERSION: ClassVar[int] = 1
    user_id: str
    tokens: list[dict[str, str]]
    reason: str = "revoked"


EVENTS: tuple[type[Any], ...] = (RefreshTokenIssued, RefreshTokensRevoked)
codec.register(EVENTS)
