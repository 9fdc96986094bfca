"""
The system family: applications, API keys, the tenant, user-action definitions
and signing keys. They live in the ``{sys}`` stream, which every process folds
into its in-memory cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from events import codec


@dataclass(frozen=True, slots=True)
class ApplicationCreated:
    """
    Emitted when an application is created.
    """

    TYPE: ClassVar[str] = "ApplicationCreated"
    VERSION: ClassVar[int] = 1
    application: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApplicationUpdated:
    """
    Emitted when an application is updated, patched, deactivated or reactivated.
    """

    TYPE: ClassVar[str] = "ApplicationUpdated"
    VERSION: ClassVar[int] = 1
    application: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApplicationDeleted:
    """
    Emitted on ``DELETE /api/application/{id}?hardDelete=true``.
    """

    TYPE: ClassVar[str] = "ApplicationDeleted"
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class ApiKeyCreated:
    """
    Emitted when an API key is created; the key itself is kept only as a digest.
    """

    TYPE: ClassVar[str] = "ApiKeyCreated"
    VERSION: ClassVar[int] = 1
    key_id: str
    digest: str
    description: str | None = None
    tenant_id: str | None = None
    permissions: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyDeleted:
    """
    Emitted when an API key is deleted.
    """

    TYPE: ClassVar[str] = "ApiKeyDeleted"
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class TenantUpdated:
    """
    Emitted when the tenant's settings are created, updated or patched.
    """

    TYPE: ClassVar[str] = "TenantUpdated"
    VERSION: ClassVar[int] = 1
    tenant: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserActionDefined:
    """
    Emitted when a user action is defined or its definition changes.
    """

    TYPE: ClassVar[str] = "UserActionDefined"
    VERSION: ClassVar[int] = 1
    user_action: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserActionDefinitionDeleted:
    """
    Emitted when a user action definition is deleted.
    """

    TYPE: ClassVar[str] = "UserActionDefinitionDeleted"
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class SigningKeyGenerated:
    """
    Emitted when a signing key is generated; secret parts are sealed.
    """

    TYPE: ClassVar[str] = "SigningKeyGenerated"
    VERSION: ClassVar[int] = 1
    key: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SigningKeyDeleted:
    """
    Emitted when a signing key is deleted.
    """

    TYPE: ClassVar[str] = "SigningKeyDeleted"
    VERSION: ClassVar[int] = 1


EVENTS: tuple[type[Any], ...] = (
    ApplicationCreated,
    ApplicationUpdated,
    ApplicationDeleted,
    ApiKeyCreated,
    ApiKeyDeleted,
    TenantUpdated,
    UserActionDefined,
    UserActionDefinitionDeleted,
    SigningKeyGenerated,
    SigningKeyDeleted,
)
codec.register(EVENTS)
