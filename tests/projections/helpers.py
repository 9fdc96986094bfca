"""
Shared steps for the projection tests: state built through the HTTP API, and
a type-aware snapshot of every projection and index key.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from loginsvc import keys

PASSWORD = "correct horse battery"

Snapshot = dict[str, tuple[str, Any, int]]


async def read_key(redis: Redis, key: str) -> tuple[str, Any, int]:
    """
    A key's type, value and PTTL, read without DUMP.
    """
    kind = (await redis.type(key)).decode()
    if kind == "string":
        value: Any = await redis.get(key)
    elif kind == "hash":
        value = await redis.hgetall(key)
    elif kind == "set":
        value = sorted(await redis.smembers(key))
    elif kind == "list":
        value = await redis.lrange(key, 0, -1)
    elif kind == "zset":
        value = await redis.zrange(key, 0, -1, withscores=True)
    else:
        value = None
    return kind, value, int(await redis.pttl(key))


async def snapshot(redis: Redis) -> Snapshot:
    """
    Every projection and index key: streams and meta keys left out.
    """
    found: Snapshot = {}
    async for raw in redis.scan_iter(match=f"{keys.PREFIX}*"):
        key = raw.decode()
        if key.startswith(f"{keys.PREFIX}meta:"):
            continue
        kind, value, pttl = await read_key(redis, key)
        if kind != "stream":
            found[key] = (kind, value, pttl)
    return found


def without_ttl(snap: Snapshot) -> dict[str, tuple[str, Any]]:
    return {key: (kind, value) for key, (kind, value, _ttl) in snap.items()}


def ttl_drift(before: Snapshot, after: Snapshot) -> int:
    """
    The largest TTL difference between two snapshots of the same keys, in ms.
    """
    drift = 0
    for key, (_kind, _value, ttl) in before.items():
        other = after[key][2]
        if (ttl < 0) != (other < 0):
            return 10**9
        drift = max(drift, abs(ttl - other))
    return drift


async def post(
    client: TestClient, path: str, body: dict[str, Any], admin: dict[str, str]
) -> Any:
    response = await client.post(path, json=body, headers=admin)
    assert response.status < 300, (path, response.status, await response.text())
    return await response.json()


async def application(client: TestClient, admin: dict[str, str]) -> str:
    body = {
        "application": {
            "name": f"app-{uuid.uuid4().hex[:6]}",
            "roles": [{"name": "user", "isDefault": True}],
            "loginConfiguration": {"generateRefreshTokens": True},
        }
    }
    created = await post(client, "/api/application", body, admin)
    return str(created["application"]["id"])


async def registered_user(
    client: TestClient, admin: dict[str, str], app_id: str, name: str
) -> dict[str, Any]:
    body = {
        "user": {
            "email": f"{name}@example.com",
            "username": name,
            "password": PASSWORD,
        },
        "registration": {"applicationId": app_id},
        "skipVerification": True,
    }
    created = await post(client, "/api/user/registration", body, admin)
    return dict(created["user"])


async def login(
    client: TestClient, admin: dict[str, str], login_id: str, app_id: str, ok: bool
) -> int:
    body = {
        "loginId": login_id,
        "password": PASSWORD if ok else "not the password",
        "applicationId": app_id,
    }
    response = await client.post("/api/login", json=body, headers=admin)
    return response.status


async def busy_store(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """
    Users registered, logged in well and badly, deactivated and deleted.
    """
    app_id = await application(client, admin)
    ada = await registered_user(client, admin, app_id, "ada")
    bob = await registered_user(client, admin, app_id, "bob")
    cy = await registered_user(client, admin, app_id, "cy")
    for login_id, ok in (("ada", True), ("bob@example.com", False), ("nobody", True)):
        await login(client, admin, login_id, app_id, ok)
    await login(client, admin, "BOB", app_id, True)
    deactivated = await client.delete(f"/api/user/{bob['id']}", headers=admin)
    deleted = await client.delete(
        f"/api/user/{cy['id']}?hardDelete=true", headers=admin
    )
    assert (200, 200) == (deactivated.status, deleted.status)
    return {"app": app_id, "ada": ada["id"], "bob": bob["id"], "cy": cy["id"]}
