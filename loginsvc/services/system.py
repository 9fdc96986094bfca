"""
System use cases: the defaults every instance starts with, the server key,
API-key checks, and lookups of the tenant and applications from the cache.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from events import system
from loginsvc import keys, signing, totp
from loginsvc.defaults import (
    DEFAULT_SIGNING_KEY_ID,
    DEFAULT_TENANT_ID,
    FUSIONAUTH_APPLICATION_ID,
)
from loginsvc.errors import ConcurrencyConflict
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system
from loginsvc.services.cache import catch_up
from loginsvc.tenant import default_tenant


async def load_server_key(rt: Runtime) -> bytes:
    """
    The key that seals TOTP secrets and private signing keys at rest.

    ``LOGINSVC_SERVER_KEY`` wins; without it the first process generates one
    and keeps it in Redis, which the README says to replace in production.
    """
    if rt.settings.server_key:
        return hashlib.sha256(rt.settings.server_key.encode()).digest()
    fresh = base64.b64encode(secrets.token_bytes(32))
    await rt.redis.set(keys.server_key(), fresh, nx=True)
    stored: Any = await rt.redis.get(keys.server_key())
    return base64.b64decode(stored)


async def ensure_defaults(rt: Runtime) -> None:
    """
    Create the default tenant, signing key and FusionAuth application once.
    """
    await catch_up(rt)
    now = rt.clock()
    try:
        if rt.system.get("key", DEFAULT_SIGNING_KEY_ID) is None:
            key = signing.generate_key(
                "HS256", DEFAULT_SIGNING_KEY_ID, "Default signing key", now
            )
            await commit_system(
                rt,
                "key",
                key.id,
                [system.SigningKeyGenerated(stored_key(rt, key))],
            )
        if rt.system.get("tenant", DEFAULT_TENANT_ID) is None:
            tenant = default_tenant(now)
            await commit_system(
                rt, "tenant", DEFAULT_TENANT_ID, [system.TenantUpdated(tenant)]
            )
        if rt.system.get("application", FUSIONAUTH_APPLICATION_ID) is None:
            app = fusionauth_application(now)
            await commit_system(
                rt,
                "application",
                FUSIONAUTH_APPLICATION_ID,
                [system.ApplicationCreated(app)],
            )
    except ConcurrencyConflict:
        # Another worker created them first; the cache has caught up.
        await ensure_defaults(rt)


def stored_key(rt: Runtime, key: signing.SigningKey) -> dict[str, Any]:
    """
    A key as its event carries it: the secret and private key sealed.
    """
    doc: dict[str, Any] = {
        "id": key.id,
        "kid": key.kid,
        "algorithm": key.algorithm,
        "name": key.name,
        "insertInstant": key.insert_instant,
    }
    if key.secret:
        doc["secret"] = totp.seal(key.secret, rt.server_key)
    if key.private_pem:
        doc["privateKey"] = totp.seal(key.private_pem, rt.server_key)
    if key.public_pem:
        doc["publicKey"] = key.public_pem
    return doc


def fusionauth_application(now_ms: int) -> dict[str, Any]:
    return {
        "id": FUSIONAUTH_APPLICATION_ID,
        "name": "FusionAuth",
        "tenantId": DEFAULT_TENANT_ID,
        "active": True,
        "roles": [
            {"name": "admin", "isDefault": False, "isSuperRole": True},
        ],
        "loginConfiguration": {
            "allowTokenRefresh": False,
            "generateRefreshTokens": False,
            "requireAuthentication": True,
        },
        "jwtConfiguration": {"enabled": False},
        "insertInstant": now_ms,
        "lastUpdateInstant": now_ms,
    }


def tenant(rt: Runtime) -> dict[str, Any]:
    """
    The default tenant's settings (the only tenant this version serves).
    """
    found = rt.system.get("tenant", DEFAULT_TENANT_ID)
    return found if found is not None else default_tenant(0)


def application(rt: Runtime, application_id: str | None) -> dict[str, Any] | None:
    if not application_id:
        return None
    return rt.system.get("application", application_id)


def api_key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def authorized_key(
    rt: Runtime, raw: str | None, method: str, endpoint: str
) -> dict[str, Any] | None:
    """
    The API key record allowing ``method`` on ``endpoint``, or ``None``.

    ``endpoint`` is the route's fixed part, as FusionAuth names endpoints in a
    key's ``permissions.endpoints``: ``/api/user`` covers ``/api/user/{id}``
    but not ``/api/user/registration``, which is an endpoint of its own.
    """
    if not raw:
        return None
    record = rt.system.get("apikey", api_key_digest(raw))
    if record is None:
        return None
    endpoints = (record.get("permissions") or {}).get("endpoints") or {}
    if not endpoints:
        return record
    allowed = endpoints.get(endpoint) or endpoints.get(endpoint + "/") or []
    if method.upper() not in (m.upper() for m in allowed if isinstance(m, str)):
        return None
    return record
