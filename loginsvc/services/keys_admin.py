"""
The Key API: generating, listing and deleting JWT signing keys, and the
public keys an application's tokens verify against (reference §5.3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from events import system
from loginsvc import signing
from loginsvc.errors import NotFound, field_error
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system
from loginsvc.services.system import application, stored_key
from loginsvc.services.tokens import jwt_settings


@dataclass(frozen=True, slots=True)
class GenerateKey:
    """
    A validated ``POST /api/key/generate`` request.
    """

    algorithm: str
    name: str
    key_id: str | None = None
    length: int | None = None


async def generate(rt: Runtime, cmd: GenerateKey) -> dict[str, object]:
    """
    Generate a key, record it sealed, and return its public view.
    """
    key_id = cmd.key_id or str(uuid.uuid4())
    if rt.system.get("key", key_id) is not None:
        raise field_error("key.id", "duplicate", "A key with this id already exists.")
    try:
        key = signing.generate_key(
            cmd.algorithm, key_id, cmd.name, rt.clock(), cmd.length
        )
    except ValueError as error:
        field_ = "key.length" if "length" in str(error) else "key.algorithm"
        raise field_error(field_, "invalid", str(error)) from None
    await commit_system(
        rt, "key", key.id, [system.SigningKeyGenerated(stored_key(rt, key))]
    )
    return signing.key_response(key)


def key_view(rt: Runtime, key_id: str) -> dict[str, object]:
    """
    One key's public view, or 404.
    """
    key = rt.keyring.get(key_id)
    if key is None:
        raise NotFound()
    return signing.key_response(key)


def all_keys(rt: Runtime) -> list[dict[str, object]]:
    found = (rt.keyring.get(str(doc["id"])) for doc in rt.system.all("key"))
    return [signing.key_response(key) for key in found if key is not None]


async def delete(rt: Runtime, key_id: str) -> None:
    """
    Delete a key; 404 when unknown, 400 while the tenant or an app signs with it.
    """
    if rt.system.get("key", key_id) is None:
        raise NotFound()
    users = [jwt_settings(rt, None), *(jwt_settings(rt, a) for a in _apps(rt))]
    if any(key_id == config.get("accessTokenKeyId") for config in users):
        raise field_error("keyId", "inUse", "The key signs tokens and is in use.")
    await commit_system(rt, "key", key_id, [system.SigningKeyDeleted()])


def _apps(rt: Runtime) -> list[dict[str, Any]]:
    return rt.system.all("application")


def public_key_of_application(rt: Runtime, application_id: str) -> str:
    """
    The PEM an application's access tokens verify with; 404 for HMAC keys.
    """
    app = application(rt, application_id)
    if app is None:
        raise NotFound()
    key_id = str(jwt_settings(rt, app).get("accessTokenKeyId") or "")
    return _pem(rt.keyring.get(key_id))


def public_key_by_kid(rt: Runtime, kid: str) -> str:
    """
    The PEM of the key with this kid (or this key id); 404 for HMAC keys.
    """
    return _pem(rt.keyring.by_kid(kid) or rt.keyring.get(kid))


def _pem(key: signing.SigningKey | None) -> str:
    if key is None or key.type == "HMAC":
        raise NotFound()
    pem = signing.key_response(key).get("publicKey")
    if not isinstance(pem, str):
        raise NotFound()
    return pem
