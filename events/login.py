"""
The login family: every attempt, every successful login, every logout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from events import codec

Outcome = Literal[
    "succeeded",
    "unknownUser",
    "wrongPassword",
    "deactivated",
    "prevented",
    "expired",
    "twoFactorRequired",
    "changePasswordRequired",
    "wrongCode",
]


@dataclass(frozen=True, slots=True)
class LoginAttempted:
    """
    Emitted for every password or two-factor login attempt, with its outcome.
    """

    TYPE: ClassVar[str] = "LoginAttempted"
    VERSION: ClassVar[int] = 1
    login_id: str
    outcome: str
    user_id: str | None = None
    application_id: str | None = None
    ip_address: str | None = None
    # The user's consecutive failures after this attempt, when it failed.
    failure_count: int | None = None


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """
    Emitted when a login succeeds: password, two-factor, ping or refresh.
    """

    TYPE: ClassVar[str] = "LoggedIn"
    VERSION: ClassVar[int] = 1
    user_id: str
    authentication_type: str
    application_id: str | None = None
    registered: bool = False
    ip_address: str | None = None
    login_id: str | None = None
    login_id_type: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """
    Emitted by ``POST /api/logout`` when it revokes refresh tokens.
    """

    TYPE: ClassVar[str] = "LoggedOut"
    VERSION: ClassVar[int] = 1
    user_id: str
    token_ids: list[str]
    global_: bool = False


@dataclass(frozen=True, slots=True)
class TwoFactorIssued:
    """
    Emitted when a login needs a second factor and a twoFactorId is handed out;
    again for the same id when it gains a one-time code during a setup.
    """

    TYPE: ClassVar[str] = "TwoFactorIssued"
    VERSION: ClassVar[int] = 1
    user_id: str
    two_factor_id_digest: str
    ttl_seconds: int
    application_id: str | None = None
    login_id: str | None = None
    ip_address: str | None = None
    context: dict[str, Any] | None = None
    # SHA-256 of "<twoFactorId>:<code>" when the id comes with a one-time code.
    code_digest: str | None = None


EVENTS: tuple[type[Any], ...] = (LoginAttempted, LoggedIn, LoggedOut, TwoFactorIssued)
codec.register(EVENTS)
