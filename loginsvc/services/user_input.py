"""
Reading the ``user`` object of a User API request: every field FusionAuth
lets a client set, checked and collected into one list of problems.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.errors import Problems
from loginsvc.http import Fields

#: Fields a client sets; a PUT replaces all of them, a PATCH merges into them.
PROFILE_STRINGS = (
    "firstName",
    "middleName",
    "lastName",
    "fullName",
    "mobilePhone",
    "imageUrl",
    "timezone",
)
PROFILE_FIELDS = (
    "email",
    "username",
    *PROFILE_STRINGS,
    "birthDate",
    "preferredLanguages",
    "data",
    "expiry",
    "passwordChangeRequired",
    "passwordChangeReason",
)
CHANGE_REASONS = ("Administrative", "Breached", "Expired", "Validation")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class UserInput:
    """
    The settable fields of a user, checked; the password still in clear.
    """

    profile: dict[str, Any]
    password: str | None
    user_id: str | None = None


def read_user(
    user: Any,
    problems: Problems,
    rules: dict[str, Any],
    *,
    password_required: bool,
) -> UserInput:
    """
    Check a ``user`` object and collect its profile; problems are added, not raised.
    """
    f = Fields(user, "user.", problems)
    profile = _login_ids(f)
    for name in PROFILE_STRINGS:
        profile[name] = f.str(name)
    profile["birthDate"] = _birth_date(f)
    profile["preferredLanguages"] = f.str_list("preferredLanguages")
    profile["data"] = f.dict("data")
    profile["expiry"] = f.int("expiry")
    profile.update(_password_change(f))
    tenant_id = f.uuid("tenantId")
    if tenant_id not in (None, DEFAULT_TENANT_ID):
        problems.invalid("user.tenantId")
    # TODO(parity): twoFactor.methods on create is ignored; the two-factor API
    # owns methods (reference §7.2, https://fusionauth.io/docs/apis/users).
    password = f.str("password", required=password_required)
    if password is not None:
        check_password(password, rules, problems, "user.password")
    return UserInput(
        profile={k: v for k, v in profile.items() if v is not None},
        password=password,
        user_id=f.uuid("id"),
    )


def _login_ids(f: Fields) -> dict[str, Any]:
    before = len(f.problems.errors)
    email = f.str("email")
    username = f.str("username")
    if email is None and username is None and len(f.problems.errors) == before:
        f.problems.blank("user.email")
        f.problems.blank("user.username")
    if email is not None and not _EMAIL.fullmatch(email):
        f.problems.add(
            "user.email", "notEmail", "The value of 'user.email' is not an email."
        )
        email = None
    # Emails are kept lower-case; usernames keep their case (reference §1.1).
    return {"email": email.lower() if email else None, "username": username}


def _birth_date(f: Fields) -> str | None:
    value = f.str("birthDate")
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        datetime.date.fromisoformat(value)
    except ValueError:
        f.problems.add(
            "user.birthDate", "couldNotConvert", "Invalid value for 'user.birthDate'."
        )
        return None
    return value


def _password_change(f: Fields) -> dict[str, Any]:
    required = f.bool("passwordChangeRequired")
    if not required:
        return {"passwordChangeRequired": False}
    reason = f.str("passwordChangeReason") or "Administrative"
    if reason not in CHANGE_REASONS:
        f.problems.add(
            "user.passwordChangeReason",
            "couldNotConvert",
            "Invalid value for 'user.passwordChangeReason'.",
        )
    return {"passwordChangeRequired": True, "passwordChangeReason": reason}


def check_password(
    password: str, rules: dict[str, Any], problems: Problems, field_: str
) -> None:
    """
    The tenant's ``passwordValidationRules``, with FusionAuth's error codes.
    """
    minimum = rules.get("minLength")
    maximum = rules.get("maxLength")
    if isinstance(minimum, int) and len(password) < minimum:
        problems.add(
            field_, "tooShort", f"The password must be at least {minimum} characters."
        )
    if isinstance(maximum, int) and len(password) > maximum:
        problems.add(
            field_, "tooLong", f"The password must be at most {maximum} characters."
        )
    if rules.get("requireMixedCase") and (
        password.lower() == password or password.upper() == password
    ):
        problems.add(
            field_, "singleCase", "The password must mix upper and lower case."
        )
    if rules.get("requireNonAlpha") and password.isalpha():
        problems.add(field_, "onlyAlpha", "The password must contain a non-letter.")
    if rules.get("requireNumber") and not any(c.isdigit() for c in password):
        problems.add(field_, "requireNumber", "The password must contain a number.")
