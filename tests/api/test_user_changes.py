"""
The User API over real HTTP: update, patch, deactivate, reactivate, delete.
"""

from __future__ import annotations

import uuid

from loginsvc.runtime import Runtime
from loginsvc.services.lookup import load_user
from tests.api.support import codes
from tests.api.support import create_user as create
from tests.api.support import get_user as get


async def test_update_replaces_the_profile_and_frees_the_old_email(client, admin):
    """
    PUT replaces settable fields; the old email can then be used by others.
    """
    user = await create(client, admin, email="old@example.com", firstName="A")
    body = {"user": {"email": "new@example.com", "lastName": "B"}}

    response = await client.put(f"/api/user/{user['id']}", json=body, headers=admin)
    updated = (await response.json())["user"]

    assert 200 == response.status
    assert ("new@example.com", "B") == (updated["email"], updated["lastName"])
    assert "firstName" not in updated
    assert user["insertInstant"] == updated["insertInstant"]
    assert (404, None) == await get(client, admin, "?email=old@example.com")
    await create(client, admin, email="old@example.com")


async def test_update_with_a_new_password_stores_a_new_hash(client, admin, rt, clock):
    """
    A password change replaces the hash and moves passwordLastUpdateInstant.
    """
    user = await create(client, admin, email="pw@example.com")
    _v, before = await load_user(rt, user["id"])
    clock.advance(5)
    body = {"user": {"email": "pw@example.com", "password": "another password"}}

    await client.put(f"/api/user/{user['id']}", json=body, headers=admin)
    _v, after = await load_user(rt, user["id"])

    assert before is not None and after is not None
    assert before["password"] != after["password"]
    assert await rt.hasher.verify(after["password"], "another password")
    assert clock.now == after["passwordLastUpdateInstant"]


async def test_update_to_a_taken_email_changes_nothing(client, admin, rt: Runtime):
    """
    A duplicate on update leaves both users as they were.
    """
    await create(client, admin, email="taken@example.com")
    user = await create(client, admin, email="mine@example.com")
    body = {"user": {"email": "Taken@example.com"}}

    response = await client.put(f"/api/user/{user['id']}", json=body, headers=admin)

    assert {"[duplicate]user.email"} == codes(await response.json())
    assert user == (await get(client, admin, f"/{user['id']}"))[1]["user"]


async def test_update_of_an_unknown_user_is_not_found(client, admin):
    """
    PUT and PATCH on an unknown id answer 404.
    """
    body = {"user": {"email": "x@example.com"}}
    path = f"/api/user/{uuid.uuid4()}"

    put = await client.put(path, json=body, headers=admin)
    patch = await client.patch(path, json=body, headers=admin)

    assert (404, 404) == (put.status, patch.status)


async def test_patch_merges_objects_removes_nulls_and_appends_arrays(client, admin):
    """
    FusionAuth's JSON PATCH: nested merge, null removes, arrays appended.
    """
    user = await create(
        client,
        admin,
        email="patch@example.com",
        firstName="P",
        data={"a": 1, "b": {"c": 2}},
        preferredLanguages=["en"],
    )
    body = {
        "user": {
            "firstName": None,
            "data": {"b": {"d": 3}},
            "preferredLanguages": ["fr"],
        }
    }

    response = await client.patch(f"/api/user/{user['id']}", json=body, headers=admin)
    patched = (await response.json())["user"]

    assert 200 == response.status
    assert "firstName" not in patched
    assert {"a": 1, "b": {"c": 2, "d": 3}} == patched["data"]
    assert ["en", "fr"] == patched["preferredLanguages"]
    assert "patch@example.com" == patched["email"]


async def test_merge_patch_replaces_arrays(client, admin):
    """
    ``application/merge-patch+json`` follows RFC 7396: arrays are replaced.
    """
    user = await create(
        client, admin, email="rfc@example.com", preferredLanguages=["en"]
    )
    headers = {**admin, "Content-Type": "application/merge-patch+json"}

    response = await client.patch(
        f"/api/user/{user['id']}",
        data='{"user": {"preferredLanguages": ["de"]}}',
        headers=headers,
    )

    assert ["de"] == (await response.json())["user"]["preferredLanguages"]


async def test_json_patch_bodies_are_refused(client, admin):
    """
    RFC 6902 bodies are not supported yet and change nothing.
    """
    user = await create(client, admin, email="jp@example.com")
    headers = {**admin, "Content-Type": "application/json-patch+json"}
    ops = '[{"op": "replace", "path": "/user/email", "value": "z@example.com"}]'

    response = await client.patch(f"/api/user/{user['id']}", data=ops, headers=headers)

    assert 400 == response.status
    assert user == (await get(client, admin, f"/{user['id']}"))[1]["user"]


async def test_delete_deactivates_and_keeps_the_login_id(client, admin):
    """
    DELETE without hardDelete sets active false; the user is still found.
    """
    user = await create(client, admin, email="deact@example.com")

    response = await client.delete(f"/api/user/{user['id']}", headers=admin)
    status, found = await get(client, admin, "?email=deact@example.com")

    assert (200, b"") == (response.status, await response.read())
    assert 200 == status
    assert found["user"]["active"] is False


async def test_reactivate_sets_active_again(client, admin):
    """
    ``PUT ?reactivate=true`` reverses a deactivation.
    """
    user = await create(client, admin, email="react@example.com")
    await client.delete(f"/api/user/{user['id']}", headers=admin)

    response = await client.put(
        f"/api/user/{user['id']}?reactivate=true", headers=admin
    )

    assert (await response.json())["user"]["active"] is True


async def test_hard_delete_removes_the_user_and_frees_the_email(client, admin):
    """
    ``?hardDelete=true`` deletes for good; the email can be reused.
    """
    user = await create(client, admin, email="gone@example.com", username="Gone")

    response = await client.delete(
        f"/api/user/{user['id']}?hardDelete=true", headers=admin
    )

    assert 200 == response.status
    assert (404, None) == await get(client, admin, f"/{user['id']}")
    await create(client, admin, email="gone@example.com", username="gone")


async def test_delete_of_an_unknown_user_is_not_found(client, admin):
    """
    DELETE on unknown or malformed ids answers 404.
    """
    unknown = await client.delete(f"/api/user/{uuid.uuid4()}", headers=admin)
    malformed = await client.delete("/api/user/nope?hardDelete=true", headers=admin)

    assert (404, 404) == (unknown.status, malformed.status)
