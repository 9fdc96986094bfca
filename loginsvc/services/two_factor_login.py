"""
Completing a two-factor login, starting one for step-up, and asking whether
one is needed (reference §2.5, §2.7, §2.8).

The pending twoFactorId is read, the user re-checked, the code verified and
the id spent in one version-checked commit; when the user moved meanwhile the
whole step runs again, so an id or a recovery code is never spent twice.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from events.login import LoginAttempted
from events.two_factor import (
    TwoFactorCompleted,
    TwoFactorIdsRevoked,
    TwoFactorTrustGranted,
)
from loginsvc import totp
from loginsvc.errors import InvalidCode, LoginPrevented, NotFound
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_user, retrying
from loginsvc.services.lockout import commit_failure
from loginsvc.services.login import (
    LoginCommand,
    LoginResult,
    change_password_result,
    commit_user_unversioned,
    complete_login,
    refusal,
)
from loginsvc.services.lookup import load_user, user_id_for_login_id
from loginsvc.services.system import application as find_application
from loginsvc.services.system import tenant
from loginsvc.services.two_factor import authenticators, matching_step, recovery_digest
from loginsvc.services.two_factor_challenge import (
    issue,
    methods_of,
    needs_challenge,
    new_id,
    one_time_digest,
    valid_trust,
)
from loginsvc.services.two_factor_challenge import pending as pending_id
from loginsvc.tenant import setting
from projections.store import Doc
from projections.two_factor import pending_digests


@dataclass(frozen=True, slots=True)
class TwoFactorLoginCommand:
    """
    A validated ``POST /api/two-factor/login``.
    """

    two_factor_id: str
    code: str
    trust_computer: bool = False
    application_id: str | None = None
    ip_address: str | None = None
    no_jwt: bool = False
    device: dict[str, Any] | None = None


async def two_factor_login(rt: Runtime, cmd: TwoFactorLoginCommand) -> LoginResult:
    """
    Redeem a twoFactorId with a TOTP or recovery code; a login's response.
    """
    return await retrying(lambda: _login_once(rt, cmd))


async def _login_once(rt: Runtime, cmd: TwoFactorLoginCommand) -> LoginResult:
    pending, id_digest = await pending_id(rt, cmd.two_factor_id)
    version, doc = await load_user(rt, pending["userId"])
    # The pending key was read before the user: a racing login may have spent
    # the id in between. The user's own list, read at the version this commit
    # is checked against, is what decides.
    pending_ids = pending_digests(doc, rt.clock()) if doc is not None else []
    if doc is None or id_digest not in pending_ids:
        raise NotFound()
    login_cmd = _as_login(cmd, pending, doc)
    outcome, error = refusal(rt, login_cmd, doc)
    if error is not None:
        await commit_user_unversioned(rt, doc["id"], _attempt(login_cmd, doc, outcome))
        raise error

    proof = _proof(rt, doc, cmd, pending, id_digest)
    if proof is None:
        await _wrong_code(rt, login_cmd, version, doc)
    events: list[Any] = [proof]
    # Success spends every pending id of the user, not only this one (§2.5).
    others = [d for d in pending_ids if d != id_digest]
    if others:
        events.append(TwoFactorIdsRevoked(doc["id"], others))
    trust = _trust(rt, doc, login_cmd.application_id) if cmd.trust_computer else None
    if trust is not None:
        events.append(trust[2])

    if doc.get("passwordChangeRequired"):
        events.append(_attempt(login_cmd, doc, "changePasswordRequired"))
        await commit_user(rt, doc["id"], version, doc, events)
        result = change_password_result(doc)
    else:
        application = find_application(rt, login_cmd.application_id)
        auth_type = str(pending["context"].get("authenticationType") or "PASSWORD")
        result = await complete_login(
            rt, login_cmd, version, doc, application, events, auth_type
        )
    if trust is not None:
        result.trust = (trust[0], trust[1])
        result.body["twoFactorTrustId"] = trust[0]
    return result


def _as_login(cmd: TwoFactorLoginCommand, pending: Doc, doc: Doc) -> LoginCommand:
    login_id = pending.get("loginId") or doc.get("email") or doc.get("username")
    return LoginCommand(
        login_id=str(login_id or ""),
        password="",
        application_id=cmd.application_id or pending.get("applicationId"),
        ip_address=cmd.ip_address,
        no_jwt=cmd.no_jwt,
        device=cmd.device,
    )


def _proof(
    rt: Runtime, doc: Doc, cmd: TwoFactorLoginCommand, pending: Doc, id_digest: str
) -> TwoFactorCompleted | None:
    """
    The event that spends the id, when the code is right: authenticators,
    then recovery codes, then the id's one-time code (reference §2.5).
    """
    code = cmd.code
    for method in authenticators(doc):
        step = matching_step(rt, doc, method, code)
        if step is not None:
            return TwoFactorCompleted(doc["id"], id_digest, method["id"], step=step)
    recovery = recovery_digest(doc, code)
    if recovery is not None:
        return TwoFactorCompleted(doc["id"], id_digest, recovery_code_digest=recovery)
    expected = pending.get("codeDigest")
    given = one_time_digest(cmd.two_factor_id, code)
    if expected and hmac.compare_digest(str(expected), given):
        return TwoFactorCompleted(doc["id"], id_digest)
    return None


async def _wrong_code(rt: Runtime, cmd: LoginCommand, version: int, doc: Doc) -> None:
    """
    A wrong code counts as a failed login; the id stays usable unless the
    lockout trips, which revokes every pending id of the user (reference §2.5).
    """
    attempt = _attempt(cmd, doc, "wrongCode")
    action = await commit_failure(rt, version, doc, attempt, revoke_two_factor_ids=True)
    if action is not None:
        raise LoginPrevented([action])
    raise InvalidCode()


def _trust(
    rt: Runtime, doc: Doc, application_id: str | None
) -> tuple[str, int, TwoFactorTrustGranted]:
    """
    A new trust id, its lifetime in seconds, and the event that stores it.
    """
    ttl = int(
        setting(
            tenant(rt),
            "externalIdentifierConfiguration",
            "twoFactorTrustIdTimeToLiveInSeconds",
        )
        or 2592000
    )
    trust_id = new_id(rt, doc["id"])
    event = TwoFactorTrustGranted(
        doc["id"], totp.digest(trust_id), rt.clock() + ttl * 1000, application_id
    )
    return trust_id, ttl, event


def _attempt(cmd: LoginCommand, doc: Doc, outcome: str) -> LoginAttempted:
    return LoginAttempted(
        login_id=cmd.login_id,
        outcome=outcome,
        user_id=doc["id"],
        application_id=cmd.application_id,
        ip_address=cmd.ip_address,
    )


async def start(
    rt: Runtime,
    user_id: str | None,
    login_id: str | None,
    application_id: str | None,
) -> dict[str, Any]:
    """
    Hand out a twoFactorId for a step-up challenge of a known user, with a
    one-time code that id accepts once (reference §2.7).
    """
    if user_id is None and login_id is not None:
        user_id = await user_id_for_login_id(rt, login_id)
    if user_id is None:
        raise NotFound()
    found = user_id

    async def attempt() -> dict[str, Any]:
        version, doc = await load_user(rt, found)
        if doc is None:
            raise NotFound()
        login = login_id or doc.get("email") or doc.get("username")
        challenge = issue(rt, doc, application_id, login, None, with_code=True)
        await commit_user(rt, found, version, doc, challenge.events)
        body: dict[str, Any] = {
            "twoFactorId": challenge.two_factor_id,
            "code": challenge.code,
        }
        if challenge.body["methods"]:
            body["methods"] = challenge.body["methods"]
        return body

    return await retrying(attempt)


async def status(
    rt: Runtime, user_id: str, application_id: str | None, trust_id: str | None
) -> tuple[int, dict[str, Any]]:
    """
    200 when a login would need no challenge (or the trust holds), else 242.
    """
    _version, doc = await load_user(rt, user_id)
    if doc is None:
        raise NotFound()
    trust = await valid_trust(rt, user_id, trust_id)
    if trust is not None:
        entry = {
            "applicationId": trust.get("applicationId"),
            "expiration": trust.get("expiration"),
            "startInstant": trust.get("startInstant"),
        }
        return 200, {"trusts": [entry], "twoFactorTrustId": trust_id}
    application = find_application(rt, application_id)
    if needs_challenge(rt, doc, application):
        return 242, {"methods": methods_of(doc)}
    return 200, {}
