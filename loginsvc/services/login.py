"""
``POST /api/login``: FusionAuth's checks in FusionAuth's order (reference §1.4).

One argon2 verify per attempt whatever the outcome, at most three Redis round
trips: the loginId index, the user's hash, and the atomic append.
"""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from events import login as login_events
from events import user as user_events
from events.codec import Envelope
from events.store import ANY_VERSION
from events.user_actions import preventing_actions
from loginsvc import keys
from loginsvc.errors import (
    ConcurrencyConflict,
    LoginPrevented,
    NotFound,
    UserExpired,
    UserLocked,
)
from loginsvc.runtime import Runtime
from loginsvc.services import tokens
from loginsvc.services.aggregates import RETRIES, backoff, commit_user
from loginsvc.services.lockout import commit_failure
from loginsvc.services.lookup import load_user, user_id_for_login_id
from loginsvc.services.system import application as find_application
from loginsvc.services.system import tenant
from loginsvc.services.two_factor_challenge import login_challenge
from loginsvc.tenant import setting
from loginsvc.views import registration_of, secured_user
from projections.store import Doc


@dataclass(frozen=True, slots=True)
class LoginCommand:
    """
    A validated login request.
    """

    login_id: str
    password: str
    application_id: str | None = None
    ip_address: str | None = None
    no_jwt: bool = False
    device: dict[str, Any] | None = None
    two_factor_trust_id: str | None = None


@dataclass(slots=True)
class LoginResult:
    """
    What the handler renders: a status, a JSON body, and tokens for cookies.
    """

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    refresh_ttl_seconds: int | None = None
    trust: tuple[str, int] | None = None


async def login(rt: Runtime, cmd: LoginCommand) -> LoginResult:
    """
    Authenticate a user by loginId and password.
    """
    user_id = await user_id_for_login_id(rt, cmd.login_id)
    version, doc = (0, None) if user_id is None else await load_user(rt, user_id)
    if user_id is None or doc is None:
        await rt.hasher.verify_dummy(cmd.password)
        await _record_unknown(rt, cmd)
        raise NotFound()
    await _refuse_before_password(rt, cmd, version, doc)
    if not await rt.hasher.verify(doc.get("password", ""), cmd.password):
        await _wrong_password(rt, cmd, version, doc)
    rehash = None
    if rt.hasher.needs_rehash(doc["password"]):
        rehash = await rt.hasher.hash(cmd.password)
    return await _after_password(rt, cmd, version, doc, rehash)


async def _refuse_before_password(
    rt: Runtime, cmd: LoginCommand, version: int, doc: Doc
) -> None:
    """
    423, 409 and 410 are decided before the password, with the same hash work.
    """
    outcome, error = refusal(rt, cmd, doc)
    if error is None:
        return
    await rt.hasher.verify_dummy(cmd.password)
    await _record(rt, cmd, version, doc, outcome)
    raise error


def refusal(rt: Runtime, cmd: LoginCommand, doc: Doc) -> tuple[str, Exception | None]:
    """
    The outcome and error (423, 409, 410) when the user may not log in at all.
    """
    if not doc.get("active", True):
        return "deactivated", UserLocked()
    actions = preventing_actions(doc, cmd.application_id, rt.clock())
    if actions:
        return "prevented", LoginPrevented(actions)
    expiry = doc.get("expiry")
    if isinstance(expiry, int) and expiry <= rt.clock():
        return "expired", UserExpired()
    return "succeeded", None


async def _wrong_password(
    rt: Runtime, cmd: LoginCommand, version: int, doc: Doc
) -> None:
    """
    Count the failure; the attempt that reaches the limit answers 409 itself.
    """
    for retry in range(RETRIES):
        attempt = _attempt(cmd, doc, "wrongPassword")
        try:
            action = await commit_failure(rt, version, doc, attempt)
        except ConcurrencyConflict:
            await backoff(retry)
            version, doc = await _reload(rt, cmd, doc)
            continue
        if action is not None:
            raise LoginPrevented([action])
        raise NotFound()
    raise ConcurrencyConflict("The user changed too often during this login.")


async def _after_password(
    rt: Runtime, cmd: LoginCommand, version: int, doc: Doc, rehash: str | None
) -> LoginResult:
    """
    Decide 242, 203 or success, and commit it; retried if the user moved.
    """
    for retry in range(RETRIES):
        try:
            return await _decide_success(rt, cmd, version, doc, rehash)
        except ConcurrencyConflict:
            await backoff(retry)
            password = doc.get("password")
            version, doc = await _reload(rt, cmd, doc)
            if doc.get("password") != password:
                raise NotFound() from None
    raise ConcurrencyConflict("The user changed too often during this login.")


async def _reload(rt: Runtime, cmd: LoginCommand, doc: Doc) -> tuple[int, Doc]:
    """
    The user again after a conflict, refused if it may no longer log in.

    A concurrent attempt may have locked the user meanwhile: then this one is
    recorded and refused, without a second hash (its work is already done).
    """
    version, fresh = await load_user(rt, doc["id"])
    if fresh is None:
        raise NotFound()
    outcome, error = refusal(rt, cmd, fresh)
    if error is not None:
        await _record(rt, cmd, version, fresh, outcome)
        raise error
    return version, fresh


async def _decide_success(
    rt: Runtime, cmd: LoginCommand, version: int, doc: Doc, rehash: str | None
) -> LoginResult:
    application = find_application(rt, cmd.application_id)
    events: list[Any] = []
    if rehash is not None:
        events.append(user_events.PasswordRehashed(rehash))
    attempt = _attempt(cmd, doc, "twoFactorRequired")
    trust_id = cmd.two_factor_trust_id
    challenge, trust = await login_challenge(rt, doc, application, attempt, trust_id)
    if challenge is not None:
        await commit_user(rt, doc["id"], version, doc, [*events, *challenge.events])
        return LoginResult(242, challenge.body)

    if doc.get("passwordChangeRequired"):
        events.append(_attempt(cmd, doc, "changePasswordRequired"))
        await commit_user(rt, doc["id"], version, doc, events)
        result = change_password_result(doc)
    else:
        result = await complete_login(
            rt, cmd, version, doc, application, events, "PASSWORD"
        )
    if trust is not None:
        # A trust that spared the challenge is echoed and its cookie re-set
        # (reference §1.4 steps 8 and 12).
        result.trust = trust
        result.body["twoFactorTrustId"] = trust[0]
    return result


def change_password_result(doc: Doc) -> LoginResult:
    """
    The 203 answer of a login whose user must change the password first.
    """
    # TODO(parity): the Change Password API that redeems this id is not built
    # yet (https://fusionauth.io/docs/apis/users#change-a-users-password); the
    # id is random and single-purpose.
    reason = doc.get("passwordChangeReason", "Administrative")
    body = {"changePasswordId": secrets.token_urlsafe(32)}
    return LoginResult(203, {**body, "changePasswordReason": reason})


async def complete_login(
    rt: Runtime,
    cmd: LoginCommand,
    version: int,
    doc: Doc,
    application: dict[str, Any] | None,
    events: list[Any],
    authentication_type: str,
) -> LoginResult:
    """
    Record a successful login and build its 200/202/212 response.

    Shared by the password and two-factor logins.
    """
    registered = bool(cmd.application_id) and (
        registration_of(doc, cmd.application_id or "") is not None
    )
    events.append(_attempt(cmd, doc, "succeeded"))
    events.append(
        login_events.LoggedIn(
            user_id=doc["id"],
            authentication_type=authentication_type,
            application_id=cmd.application_id,
            registered=registered,
            ip_address=cmd.ip_address,
            login_id=cmd.login_id,
            login_id_type="email" if "@" in cmd.login_id else "username",
        )
    )
    refresh_value = None
    refresh_id = None
    now_s = rt.clock() // 1000
    if not cmd.no_jwt and tokens.refresh_token_wanted(
        application, doc, cmd.application_id
    ):
        refresh_value, issued = tokens.new_refresh_token(
            rt, doc["id"], cmd.application_id or "", application, now_s, _device(cmd)
        )
        refresh_id = issued.token_id
        events.append(issued)
    new_doc = await commit_user(rt, doc["id"], version, doc, events)
    assert new_doc is not None
    body: dict[str, Any] = {}
    result = LoginResult(_status(rt, cmd, new_doc, registered), body)
    if not cmd.no_jwt:
        issued_token = tokens.access_token(
            rt,
            new_doc,
            cmd.application_id,
            application,
            authentication_type,
            auth_time=now_s,
            sid=refresh_id,
        )
        body["token"] = issued_token.token
        body["tokenExpirationInstant"] = issued_token.expiration_instant
    if refresh_value is not None:
        body["refreshToken"] = refresh_value
        body["refreshTokenId"] = refresh_id
        minutes = tokens.jwt_settings(rt, application).get(
            "refreshTokenTimeToLiveInMinutes"
        )
        result.refresh_ttl_seconds = int(minutes or 43200) * 60
    body["user"] = secured_user(new_doc)
    return result


def _status(rt: Runtime, cmd: LoginCommand, doc: Doc, registered: bool) -> int:
    if cmd.application_id and not registered:
        return 202
    verify_email = setting(tenant(rt), "emailConfiguration", "verifyEmail")
    if verify_email and doc.get("email") and not doc.get("verified"):
        return 212
    return 200


def _device(cmd: LoginCommand) -> dict[str, Any]:
    device = dict(cmd.device or {})
    if cmd.ip_address:
        device["lastAccessedAddress"] = cmd.ip_address
    return device


def _attempt(
    cmd: LoginCommand, doc: Doc | None, outcome: str
) -> login_events.LoginAttempted:
    return login_events.LoginAttempted(
        login_id=cmd.login_id,
        outcome=outcome,
        user_id=doc["id"] if doc else None,
        application_id=cmd.application_id,
        ip_address=cmd.ip_address,
    )


async def _record(
    rt: Runtime, cmd: LoginCommand, version: int, doc: Doc, outcome: str
) -> None:
    """
    Record a refused attempt; a concurrent change to the user is not retried.
    """
    try:
        await commit_user(rt, doc["id"], version, doc, [_attempt(cmd, doc, outcome)])
    except ConcurrencyConflict:
        await commit_user_unversioned(rt, doc["id"], _attempt(cmd, doc, outcome))


async def commit_user_unversioned(
    rt: Runtime, user_id: str, event: login_events.LoginAttempted
) -> None:
    """
    Append an attempt that changes no projection, without a version check.
    """
    tag = rt.user_tag(user_id)
    envelope = Envelope(event, f"attempt:{user_id}", 0, rt.clock())
    await rt.events.append(tag, None, ANY_VERSION, [envelope])


async def _record_unknown(rt: Runtime, cmd: LoginCommand) -> None:
    """
    Attempts for unknown loginIds go to a partition chosen by the loginId.
    """
    lowered = cmd.login_id.lower()
    partition = zlib.crc32(lowered.encode()) % rt.settings.partitions
    envelope = Envelope(
        _attempt(cmd, None, "unknownUser"), f"login:{lowered}", 0, rt.clock()
    )
    await rt.events.append(keys.tag(partition), None, ANY_VERSION, [envelope])
