"""
Managing a user's two-factor methods: enable, disable, recovery codes
(reference §2.2-2.4, §2.9).

Every accepted TOTP code records its time step with the user in the same
version-checked commit, so a code that worked once is refused afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from events.two_factor import (
    RecoveryCodesGenerated,
    TwoFactorMethodEnabled,
    TwoFactorMethodsDisabled,
)
from loginsvc import totp
from loginsvc.errors import (
    GeneralError,
    InvalidCode,
    NotFound,
    ValidationFailed,
    field_error,
)
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_user, retrying
from loginsvc.services.lookup import load_user
from loginsvc.services.two_factor_challenge import (
    new_one_time_code,
    one_time_digest,
    pending,
    with_one_time_code,
)
from projections.store import Doc

AUTHENTICATOR = {"algorithm": "HmacSHA1", "codeLength": 6, "timeStep": 30}


@dataclass(frozen=True, slots=True)
class EnableCommand:
    """
    A validated ``POST /api/user/two-factor/{userId}`` for an authenticator.
    """

    user_id: str
    code: str
    secret: str
    name: str | None = None
    # Set when the setup finishes a login's ``Required`` challenge (§2.3).
    two_factor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Enabled:
    """
    What enabling answers: recovery codes for a first method, and the one-time
    code that finishes the login of ``twoFactorId``, when one was given.
    """

    recovery_codes: list[str] | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class DisableCommand:
    """
    A validated ``DELETE /api/user/two-factor/{userId}``.
    """

    user_id: str
    code: str
    method_id: str | None = None


def new_secret() -> dict[str, str]:
    """
    A fresh secret in both of FusionAuth's encodings of the same key.
    """
    secret, base32 = totp.new_secret()
    return {"secret": secret, "secretBase32Encoded": base32}


def authenticators(doc: Doc) -> list[dict[str, Any]]:
    """
    The user's authenticator (TOTP) methods, secrets still sealed.
    """
    methods = (doc.get("twoFactor") or {}).get("methods") or []
    return [m for m in methods if m.get("method") == "authenticator"]


def matching_step(
    rt: Runtime, doc: Doc, method: dict[str, Any], code: str
) -> int | None:
    """
    The time step at which ``code`` is right for this method and not yet used.
    """
    secret = totp.unseal(method["secret"], rt.server_key)
    last = doc.get("_totpStep")
    return totp.verify_code(secret, code, rt.clock() / 1000, last)


def recovery_digest(doc: Doc, code: str) -> str | None:
    """
    The digest of ``code`` when it is one of the user's unused recovery codes.
    """
    found = totp.digest(totp.normalize_recovery_code(code))
    return found if found in doc.get("_recoveryCodes", []) else None


def fresh_recovery_codes() -> tuple[list[str], list[str]]:
    """
    Ten new recovery codes and the digests that are all the service keeps.
    """
    codes = totp.new_recovery_codes()
    return codes, [totp.digest(totp.normalize_recovery_code(c)) for c in codes]


async def _user(rt: Runtime, user_id: str) -> tuple[int, Doc]:
    version, doc = await load_user(rt, user_id)
    if doc is None:
        raise NotFound()
    return version, doc


async def enable(rt: Runtime, cmd: EnableCommand) -> Enabled:
    """
    Add an authenticator method; the recovery codes when it is the first one,
    and with ``twoFactorId`` a code that finishes that login (reference §2.3).
    """
    if totp.verify_code(cmd.secret, cmd.code, rt.clock() / 1000, None) is None:
        raise InvalidCode()

    async def attempt() -> Enabled:
        version, doc = await _user(rt, cmd.user_id)
        existing = (doc.get("twoFactor") or {}).get("methods") or []
        method = _new_method(rt, cmd, {m.get("id") for m in existing})
        codes, digests = fresh_recovery_codes() if not existing else (None, None)
        # The code that proves a new secret is not a login, so it does not
        # spend its time step: FusionAuth clients enable a method and log in
        # with the same code inside one 30 s window, and that keeps working.
        events: list[Any] = [TwoFactorMethodEnabled(method, None, digests)]
        login_code = None
        if cmd.two_factor_id is not None:
            login_code, issued = await _login_code(rt, cmd.user_id, cmd.two_factor_id)
            events.append(issued)
        await commit_user(rt, cmd.user_id, version, doc, events)
        return Enabled(codes, login_code)

    return await retrying(attempt)


def _new_method(rt: Runtime, cmd: EnableCommand, taken: set[Any]) -> dict[str, Any]:
    method_id = totp.new_method_id()
    while method_id in taken:
        method_id = totp.new_method_id()
    method: dict[str, Any] = {
        "id": method_id,
        "method": "authenticator",
        "authenticator": dict(AUTHENTICATOR),
        "secret": totp.seal(cmd.secret, rt.server_key),
        "name": cmd.name,
    }
    return {k: v for k, v in method.items() if v is not None}


async def _login_code(rt: Runtime, user_id: str, two_factor_id: str) -> tuple[str, Any]:
    """
    A one-time code for the user's pending ``twoFactorId``, and its event.
    """
    try:
        record, id_digest = await pending(rt, two_factor_id)
    except NotFound:
        record, id_digest = {}, ""
    if record.get("userId") != user_id:
        message = "The value of 'twoFactorId' is not a pending login of the user."
        raise field_error("twoFactorId", "invalid", message)
    code = new_one_time_code()
    code_digest = one_time_digest(two_factor_id, code)
    return code, with_one_time_code(rt, record, id_digest, code_digest)


async def disable(rt: Runtime, cmd: DisableCommand) -> None:
    """
    Remove a method by its code, or every method with a recovery code.
    """

    async def attempt() -> None:
        version, doc = await _user(rt, cmd.user_id)
        event = _disable_event(rt, doc, cmd)
        await commit_user(rt, cmd.user_id, version, doc, [event])

    await retrying(attempt)


def _disable_event(rt: Runtime, doc: Doc, cmd: DisableCommand) -> Any:
    methods = (doc.get("twoFactor") or {}).get("methods") or []
    recovery = recovery_digest(doc, cmd.code)
    if recovery is not None:
        ids = [m["id"] for m in methods]
        return TwoFactorMethodsDisabled(ids, recovery_code_digest=recovery)
    method = next((m for m in methods if m.get("id") == cmd.method_id), None)
    if method is None:
        message = "The value of 'methodId' is not a method of the user."
        raise field_error("methodId", "invalid", message)
    if method.get("method") != "authenticator":
        raise InvalidCode()
    step = matching_step(rt, doc, method, cmd.code)
    if step is None:
        raise InvalidCode()
    return TwoFactorMethodsDisabled([method["id"]], step=step)


async def regenerate_recovery_codes(rt: Runtime, user_id: str) -> list[str]:
    """
    Replace the user's recovery codes with ten new ones.
    """

    async def attempt() -> list[str]:
        version, doc = await _user(rt, user_id)
        if not (doc.get("twoFactor") or {}).get("methods"):
            raise ValidationFailed(
                general_errors=[
                    GeneralError(
                        "[TwoFactorNotEnabled]",
                        "The user has no two-factor method to recover.",
                    )
                ]
            )
        codes, digests = fresh_recovery_codes()
        await commit_user(rt, user_id, version, doc, [RecoveryCodesGenerated(digests)])
        return codes

    return await retrying(attempt)
