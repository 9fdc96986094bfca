"""
The two-factor family: methods enabled and disabled, recovery codes,
completed challenges and trusted devices.

Secrets are carried sealed with the server key; recovery codes, twoFactorIds,
one-time codes and trust ids only as SHA-256 digests. A ``step`` is the TOTP
time step a code was accepted at, kept with the user so the same code never
works twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from events import codec


@dataclass(frozen=True, slots=True)
class TwoFactorMethodEnabled:
    """
    Emitted when a user proves a new authenticator method with a code.
    """

    TYPE: ClassVar[str] = "TwoFactorMethodEnabled"
    VERSION: ClassVar[int] = 1
    method: dict[str, Any]
    step: int | None = None
    # Set only for the user's first method: the new recovery codes' digests.
    recovery_code_digests: list[str] | None = None


@dataclass(frozen=True, slots=True)
class TwoFactorMethodsDisabled:
    """
    Emitted when methods are removed, by a method's code or a recovery code.
    """

    TYPE: ClassVar[str] = "TwoFactorMethodsDisabled"
    VERSION: ClassVar[int] = 1
    method_ids: list[str]
    step: int | None = None
    recovery_code_digest: str | None = None


@dataclass(frozen=True, slots=True)
class RecoveryCodesGenerated:
    """
    Emitted when a user's recovery codes are replaced by a fresh set.
    """

    TYPE: ClassVar[str] = "RecoveryCodesGenerated"
    VERSION: ClassVar[int] = 1
    digests: list[str]


@dataclass(frozen=True, slots=True)
class TwoFactorCompleted:
    """
    Emitted when a twoFactorId is redeemed with a right code; the id is spent.
    """

    TYPE: ClassVar[str] = "TwoFactorCompleted"
    VERSION: ClassVar[int] = 1
    user_id: str
    two_factor_id_digest: str
    method_id: str | None = None
    step: int | None = None
    recovery_code_digest: str | None = None


@dataclass(frozen=True, slots=True)
class TwoFactorTrustGranted:
    """
    Emitted when a two-factor login with ``trustComputer`` trusts the device.
    """

    TYPE: ClassVar[str] = "TwoFactorTrustGranted"
    VERSION: ClassVar[int] = 1
    user_id: str
    trust_digest: str
    expires_at: int
    application_id: str | None = None


@dataclass(frozen=True, slots=True)
class TwoFactorIdsRevoked:
    """
    Emitted when a two-factor login succeeds, or a lockout trips on a wrong
    code: the user's (other) pending twoFactorIds stop working (reference §2.5).
    """

    TYPE: ClassVar[str] = "TwoFactorIdsRevoked"
    VERSION: ClassVar[int] = 1
    user_id: str
    two_factor_id_digests: list[str]


#: The events that change the user document, not only TTL keys.
USER_EVENTS = (
    TwoFactorMethodEnabled,
    TwoFactorMethodsDisabled,
    RecoveryCodesGenerated,
    TwoFactorCompleted,
    TwoFactorIdsRevoked,
)

EVENTS: tuple[type[Any], ...] = (*USER_EVENTS, TwoFactorTrustGranted)
codec.register(EVENTS)
