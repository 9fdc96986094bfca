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
    # Every token of the user, including ones the service did not list, as a
    # prevent-login action does (reference §5.5, onLoginPrevented).
    every_token: bool = False


@dataclass(frozen=True, slots=True)
class RefreshTokenUsed:
    """
    Emitted when a refresh changes the token: a rotation or a sliding window.

    ``token`` is the whole record after the use; ``previous_digest`` differs
    from its digest when a one-time token was rotated, and is then kept as a
    retired digest until ``token["expiresAt"]`` so a reuse can be detected.
    """

    TYPE: ClassVar[str] = "RefreshTokenUsed"
    VERSION: ClassVar[int] = 1
    user_id: str
    token_id: str
    previous_digest: str
    token: dict[str, Any]
    grace_until: int = 0


EVENTS: tuple[type[Any], ...] = (
    RefreshTokenIssued,
    RefreshTokensRevoked,
    RefreshTokenUsed,
)
codec.register(EVENTS)
