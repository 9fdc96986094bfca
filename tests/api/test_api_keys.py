"""
The API Key API over real HTTP.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from loginsvc.defaults import DEFAULT_TENANT_ID
from tests.api.support import codes


async def create(
    client: TestClient, headers: dict[str, str], path: str = "/api/api-key", **key: Any
) -> Any:
    return await client.post(path, json={"apiKey": key}, headers=headers)


async def test_create_shows_the_key_once_and_it_works(client, admin, clock):
    """
    The create response carries the key; retrieve does not; the key is usable.
    """
    response = await create(client, admin, description="ci", key="a-new-key-value")
    created = (await response.json())["apiKey"]

    got = await client.get(f"/api/api-key/{created['id']}", headers=admin)
    used = await client.get("/api/tenant", headers={"Authorization": created["key"]})

    assert ("a-new-key-value", "ci") == (created["key"], created["description"])
    assert clock.now == created["insertInstant"]
    assert "digest" not in created
    retrieved = (await got.json())["apiKey"]
    assert {k: v for k, v in created.items() if k != "key"} == retrieved
    assert 200 == used.status


async def test_create_without_a_key_generates_one(client, admin):
    """
    A key value is generated when none is given.
    """
    response = await create(client, admin, description="generated")

    assert 32 <= len((await response.json())["apiKey"]["key"])


async def test_create_with_an_id_in_the_path(client, admin):
    """
    ``POST /api/api-key/{id}`` uses that id; a second create is a duplicate.
    """
    key_id = str(uuid.uuid4())

    first = await create(client, admin, f"/api/api-key/{key_id}")
    second = await create(client, admin, f"/api/api-key/{key_id}")

    assert key_id == (await first.json())["apiKey"]["id"]
    assert {"[duplicate]apiKey.id"} == codes(await second.json())


async def test_create_errors_are_reported(client, admin):
    """
    Short or duplicate values, other tenants and bad permissions are refused.
    """
    short = await create(client, admin, key="short")
    duplicate = await create(client, admin, key=admin["Authorization"])
    tenant = await create(client, admin, tenantId=str(uuid.uuid4()))
    permissions = await create(
        client, admin, permissions={"endpoints": {"/api/user": ["FETCH"]}}
    )

    assert {"[invalid]apiKey.key"} == codes(await short.json())
    assert {"[duplicate]apiKey.key"} == codes(await duplicate.json())
    assert {"[invalid]apiKey.tenantId"} == codes(await tenant.json())
    assert {"[invalid]apiKey.permissions.endpoints"} == codes(await permissions.json())


async def test_endpoint_permissions_limit_the_key(client, admin):
    """
    A key limited to GET /api/user cannot call other endpoints.
    """
    response = await create(
        client, admin, permissions={"endpoints": {"/api/user": ["GET"]}}
    )
    limited = {"Authorization": (await response.json())["apiKey"]["key"]}

    allowed = await client.get(f"/api/user/{uuid.uuid4()}", headers=limited)
    refused = await client.get("/api/tenant", headers=limited)

    assert (404, 401) == (allowed.status, refused.status)


async def test_a_user_permission_does_not_cover_the_endpoints_below_it(client, admin):
    """
    /api/user/registration, /api/user/action and the others are endpoints of
    their own, as in FusionAuth: a key for /api/user reaches none of them.
    """
    response = await create(
        client, admin, permissions={"endpoints": {"/api/user": ["GET", "POST"]}}
    )
    limited = {"Authorization": (await response.json())["apiKey"]["key"]}
    user_id = str(uuid.uuid4())

    statuses = [
        (await client.get("/api/user/recent-login", headers=limited)).status,
        (
            await client.get(f"/api/user/action?userId={user_id}", headers=limited)
        ).status,
        (
            await client.post(
                f"/api/user/registration/{user_id}", json={}, headers=limited
            )
        ).status,
        (await client.post("/api/user/action", json={}, headers=limited)).status,
        (await client.get(f"/api/user/{user_id}", headers=limited)).status,
    ]

    assert [401, 401, 401, 401, 404] == statuses


async def test_a_limited_key_cannot_create_a_stronger_key(client, admin):
    """
    Keys are created with equal or lesser authority only.
    """
    endpoints = {"/api/api-key": ["POST"], "/api/user": ["GET"]}
    response = await create(client, admin, permissions={"endpoints": endpoints})
    limited = {"Authorization": (await response.json())["apiKey"]["key"]}

    global_ = await create(client, limited)
    wider = await create(
        client, limited, permissions={"endpoints": {"/api/user": ["GET", "DELETE"]}}
    )
    lesser = await create(
        client, limited, permissions={"endpoints": {"/api/user": ["GET"]}}
    )

    assert (401, 401, 200) == (global_.status, wider.status, lesser.status)


async def test_a_tenant_key_creates_keys_for_its_tenant(client, admin):
    """
    A key locked to the tenant passes its tenant on to the keys it creates.
    """
    response = await create(client, admin, tenantId=DEFAULT_TENANT_ID)
    scoped = {"Authorization": (await response.json())["apiKey"]["key"]}

    child = await create(client, scoped, description="child")

    assert DEFAULT_TENANT_ID == (await child.json())["apiKey"]["tenantId"]


async def test_delete_removes_the_key(client, admin):
    """
    A deleted key no longer authenticates and is not found.
    """
    response = await create(client, admin, key="soon-deleted-key")
    key_id = (await response.json())["apiKey"]["id"]

    deleted = await client.delete(f"/api/api-key/{key_id}", headers=admin)
    used = await client.get(
        "/api/tenant", headers={"Authorization": "soon-deleted-key"}
    )
    got = await client.get(f"/api/api-key/{key_id}", headers=admin)

    assert (200, 401, 404) == (deleted.status, used.status, got.status)


async def test_unknown_key_ids_are_not_found(client, admin):
    """
    GET and DELETE of unknown or malformed ids answer 404.
    """
    unknown = await client.get(f"/api/api-key/{uuid.uuid4()}", headers=admin)
    malformed = await client.delete("/api/api-key/nope", headers=admin)

    assert (404, 404) == (unknown.status, malformed.status)


async def test_api_key_api_needs_an_api_key(client):
    """
    No key, or a wrong one, answers 401.
    """
    missing = await create(client, {}, description="x")
    wrong = await client.get(
        f"/api/api-key/{uuid.uuid4()}", headers={"Authorization": "not-the-key"}
    )

    assert (401, 401) == (missing.status, wrong.status)
