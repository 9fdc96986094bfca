"""
The errors the service raises, and the HTTP status each one renders as.

The tree::

    LoginServiceError                 never raised directly
    ├── ValidationFailed              400, FusionAuth Errors JSON
    ├── BareStatus                    a status with an empty body
    │   ├── Unauthorized              401
    │   ├── NotFound                  404
    │   ├── UserLocked                423 (deactivated user)
    │   ├── UserExpired               410
    │   └── InvalidCode               421 (wrong two-factor code)
    ├── LoginPrevented                409 with the preventing ``actions``
    ├── PayloadTooLarge               413
    ├── TooManyRequests               429, JSON body and ``Retry-After``
    └── Unavailable                   503, JSON body and ``Retry-After``
        ├── Overloaded                password queue full
        ├── StoreUnavailable          Redis down
        └── ConcurrencyConflict       the expected version moved; retried

``loginsvc.middleware`` renders them; handlers never build error bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """
    One entry of ``fieldErrors``: the code names the reason and the field.
    """

    field: str
    code: str
    message: str
    data: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data:
            body["data"] = self.data
        return body


@dataclass(frozen=True, slots=True)
class GeneralError:
    """
    One entry of ``generalErrors``.
    """

    code: str
    message: str


class LoginServiceError(Exception):
    """
    The root of every error the service raises on purpose; never raised directly.
    """

    status: ClassVar[int] = 500


# ---------------------------------------------------------------- 400


class ValidationFailed(LoginServiceError):
    """
    The request is invalid: every field and general error found, at once.
    """

    status = 400

    def __init__(
        self,
        field_errors: list[FieldError] | None = None,
        general_errors: list[GeneralError] | None = None,
    ) -> None:
        self.field_errors = field_errors or []
        self.general_errors = general_errors or []
        super().__init__("The request is invalid.")

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.field_errors:
            fields_: dict[str, list[dict[str, Any]]] = {}
            for error in self.field_errors:
                fields_.setdefault(error.field, []).append(error.as_json())
            body["fieldErrors"] = fields_
        if self.general_errors:
            body["generalErrors"] = [
                {"code": e.code, "message": e.message} for e in self.general_errors
            ]
        return body


@dataclass
class Problems:
    """
    Collects field errors while a request is validated, then raises them together.
    """

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_: str, reason: str, message: str) -> None:
        self.errors.append(FieldError(field_, f"[{reason}]{field_}", message))

    def blank(self, field_: str) -> None:
        self.add(field_, "blank", f"You must specify '{field_}'.")

    def missing(self, field_: str) -> None:
        self.add(field_, "missing", f"You must specify '{field_}'.")

    def invalid(self, field_: str, message: str | None = None) -> None:
        self.add(field_, "invalid", message or f"The value of '{field_}' is invalid.")

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def field_error(field_: str, reason: str, message: str) -> ValidationFailed:
    """
    A ``ValidationFailed`` carrying one field error, such as ``[duplicate]user.email``.
    """
    return ValidationFailed([FieldError(field_, f"[{reason}]{field_}", message)])


# ---------------------------------------------------------------- bare statuses


class BareStatus(LoginServiceError):
    """
    An outcome FusionAuth answers with a status and an empty body.
    """


class Unauthorized(BareStatus):
    """
    The API key or token is missing, unknown or not allowed here.
    """

    status = 401


class NotFound(BareStatus):
    """
    The thing asked for does not exist, or the credentials were wrong.
    """

    status = 404


class UserExpired(BareStatus):
    """
    The user's ``expiry`` has passed.
    """

    status = 410


class InvalidCode(BareStatus):
    """
    The two-factor code was wrong.
    """

    status = 421


class UserLocked(BareStatus):
    """
    The user is deactivated (``active`` is false).
    """

    status = 423


# ---------------------------------------------------------------- bodies


class LoginPrevented(LoginServiceError):
    """
    A prevent-login user action is in force; the body lists the actions.
    """

    status = 409

    def __init__(self, actions: list[dict[str, Any]]) -> None:
        self.actions = actions
        super().__init__("Login is prevented by a user action.")


class PayloadTooLarge(LoginServiceError):
    """
    The request body is larger than the configured limit.
    """

    status = 413


class TooManyRequests(LoginServiceError):
    """
    An opt-in rate limit (per client IP or loginId) is exhausted for now.
    """

    status = 429
    code = "[TooManyRequests]"
    message = "Too many login attempts. Try again later."

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(self.message)


class Unavailable(LoginServiceError):
    """
    A passing condition: 503 with an Errors body and ``Retry-After``.
    """

    status = 503
    code: ClassVar[str] = "[Unavailable]"
    message: ClassVar[str] = "The service is busy. Try again shortly."


class Overloaded(Unavailable):
    """
    The password queue is full; the client should retry later.
    """

    code = "[Overloaded]"
    message = "The service is busy verifying passwords. Try again shortly."


class StoreUnavailable(Unavailable):
    """
    Redis did not answer in time.
    """

    code = "[StoreUnavailable]"
    message = "The data store is unavailable. Try again shortly."


class ConcurrencyConflict(Unavailable):
    """
    The aggregate's version moved between read and append; services retry.

    It reaches the client only when every retry lost the race.
    """

    code = "[ConcurrentModification]"
    message = "The account changed too often at once. Try again shortly."
