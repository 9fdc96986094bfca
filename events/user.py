"""
The user family: accounts, registrations, user actions applied to a user.

Documents are FusionAuth-shaped dicts. A user document carries its password
only as an argon2 hash and two-factor secrets only sealed with the server key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from events import codec


@dataclass(frozen=True, slots=True)
class UserCreated:
    """
    Emitted when a user is created, directly or with a registration.
    """

    TYPE: ClassVar[str] = "UserCreated"
    VERSION: ClassVar[int] = 1
    user: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserUpdated:
    """
    Emitted when an update or patch replaces the user's profile fields.
    """

    TYPE: ClassVar[str] = "UserUpdated"
    VERSION: ClassVar[int] = 1
    user: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserDeactivated:
    """
    Emitted on ``DELETE /api/user/{id}`` without ``hardDelete``.
    """

    TYPE: ClassVar[str] = "UserDeactivated"
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class UserReactivated:
    """
    Emitted on ``PUT /api/user/{id}?reactivate=true``.
    """

    TYPE: ClassVar[str] = "UserReactivated"
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class UserDeleted:
    """
    Emitted on ``DELETE /api/user/{id}?hardDelete=true``.
    """

    TYPE: ClassVar[str] = "UserDeleted"
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class UserRegistered:
    """
    Emitted when a user is registered for an application.
    """

    TYPE: ClassVar[str] = "UserRegistered"
    VERSION: ClassVar[int] = 1
    registration: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RegistrationUpdated:
    """
    Emitted when a registration's roles or data change.
    """

    TYPE: ClassVar[str] = "RegistrationUpdated"
    VERSION: ClassVar[int] = 1
    registration: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RegistrationDeleted:
    """
    Emitted when a user's registration for an application is removed.
    """

    TYPE: ClassVar[str] = "RegistrationDeleted"
    VERSION: ClassVar[int] = 1
    application_id: str


@dataclass(frozen=True, slots=True)
class UserActionApplied:
    """
    Emitted when a user action (such as a prevent-login lock) is applied.
    """

    TYPE: ClassVar[str] = "UserActionApplied"
    VERSION: ClassVar[int] = 1
    action: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserActionCancelled:
    """
    Emitted when an applied user action is cancelled before its expiry.
    """

    TYPE: ClassVar[str] = "UserActionCancelled"
    VERSION: ClassVar[int] = 1
    action_id: str
    actioner_user_id: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class PasswordRehashed:
    """
    Emitted after a login whose hash used older argon2 parameters.
    """

    TYPE: ClassVar[str] = "PasswordRehashed"
    VERSION: ClassVar[int] = 1
    password_hash: str


EVENTS: tuple[type[Any], ...] = (
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    UserRegistered,
    RegistrationUpdated,
    RegistrationDeleted,
    UserActionApplied,
    UserActionCancelled,
    PasswordRehashed,
)
codec.register(EVENTS)
