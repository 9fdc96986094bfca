"""
Access tokens and refresh tokens as the Login API issues them.

Claims follow FusionAuth (reference §5.2): seconds in claims, milliseconds in
``tokenExpirationInstant``. Refresh token values embed the user's partition,
so a refresh finds its token without an index; only digests are stored.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from events.refresh_token import RefreshTokenIssued
from loginsvc import keys
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.runtime import Runtime
from loginsvc.services.system import tenant
from loginsvc.tenant import setting
from loginsvc.totp import digest


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """
    A signed access token and its expiry instant in milliseconds.
    """

    token: str
    expiration_instant: int


def jwt_settings(rt: Runtime, application: dict[str, Any] | None) -> dict[str, Any]:
    """
    The JWT configuration in force: the application's when enabled, else the tenant's.
    """
    tenant_jwt: dict[str, Any] = dict(setting(tenant(rt), "jwtConfiguration") or {})
    app_jwt = (application or {}).get("jwtConfiguration") or {}
    if app_jwt.get("enabled"):
        return {**tenant_jwt, **{k: v for k, v in app_jwt.items() if v is not None}}
    return tenant_jwt


def access_token(
    rt: Runtime,
    user: dict[str, Any],
    application_id: str | None,
    application: dict[str, Any] | None,
    authentication_type: str,
    *,
    auth_time: int | None = None,
    sid: str | None = None,
    ttl_seconds: int | None = None,
) -> IssuedToken:
    """
    Sign an access token for the user, as FusionAuth's Login API would.
    """
    now_s = rt.clock() // 1000
    config = jwt_settings(rt, application)
    ttl = ttl_seconds or int(config.get("timeToLiveInSeconds") or 3600)
    claims: dict[str, Any] = {
        "aud": application_id,
        "exp": now_s + ttl,
        "iat": now_s,
        "iss": setting(tenant(rt), "issuer", default="acme.com"),
        "sub": user["id"],
        "jti": str(uuid.uuid4()),
        "authenticationType": authentication_type,
        "auth_time": auth_time if auth_time is not None else now_s,
        "tid": user.get("tenantId", DEFAULT_TENANT_ID),
        "sid": sid,
    }
    if _identity_claims(application_id, application):
        claims["email"] = user.get("email")
        claims["email_verified"] = (
            bool(user.get("verified")) if "email" in user else None
        )
        claims["preferred_username"] = user.get("username")
    registration = _registration(user, application_id)
    if registration is not None:
        claims["applicationId"] = application_id
        claims["roles"] = list(registration.get("roles") or [])
    clean = {k: v for k, v in claims.items() if v is not None}
    key_id = str(config.get("accessTokenKeyId") or "")
    token = rt.keyring.sign(key_id, clean)
    return IssuedToken(token, (now_s + ttl) * 1000)


def _identity_claims(application_id: str | None, app: dict[str, Any] | None) -> bool:
    # Since 1.50 email and preferred_username stay out of access tokens for
    # apps with the Strict scope policy, the default for new apps (§10.7).
    if not application_id or app is None:
        return True
    policy = (app.get("oauthConfiguration") or {}).get("scopeHandlingPolicy")
    return policy == "Compatibility"


def _registration(user: dict[str, Any], application_id: str | None) -> Any:
    if not application_id:
        return None
    for registration in user.get("registrations", []):
        if registration.get("applicationId") == application_id:
            return registration
    return None


def refresh_token_wanted(
    application: dict[str, Any] | None, user: dict[str, Any], application_id: str | None
) -> bool:
    """
    FusionAuth's rule: the app generates them and the user is registered.
    """
    if application is None or _registration(user, application_id) is None:
        return False
    login_config = application.get("loginConfiguration") or {}
    return bool(login_config.get("generateRefreshTokens"))


def new_refresh_token(
    rt: Runtime,
    user_id: str,
    application_id: str,
    application: dict[str, Any] | None,
    auth_time: int,
    device: dict[str, Any] | None,
) -> tuple[str, RefreshTokenIssued]:
    """
    A fresh refresh token value and the event that records its digest.
    """
    partition = keys.partition_of(user_id, rt.settings.partitions)
    value = f"{partition:02x}" + secrets.token_urlsafe(48)
    minutes = int(
        jwt_settings(rt, application).get("refreshTokenTimeToLiveInMinutes") or 43200
    )
    now = rt.clock()
    event = RefreshTokenIssued(
        token_id=str(uuid.uuid4()),
        digest=digest(value),
        user_id=user_id,
        application_id=application_id,
        start_instant=now,
        expires_at=now + minutes * 60_000,
        auth_time=auth_time,
        device=device,
    )
    return value, event


def partition_of_token(value: str, partitions: int) -> int | None:
    """
    The partition a refresh token value names, or ``None`` if it names none.
    """
    try:
        partition = int(value[:2], 16)
    except ValueError:
        return None
    return partition if 0 <= partition < partitions else None
