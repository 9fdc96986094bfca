"""
The Registration API over real HTTP.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from loginsvc.services.lookup import load_user
from tests.api.support import PASSWORD, codes


@pytest.fixture
async def app_id(client: TestClient, admin: dict[str, str]) -> str:
    body = {
        "application": {
            "name": "Pied Piper",
            "roles": [
                {"name": "admin"},
                {"name": "user", "isDefault": True},
                {"name": "viewer", "isDefault": True},
            ],
        }
    }
    response = await client.post("/api/application", json=body, headers=admin)
    return str((await response.json())["application"]["id"])


@pytest.fixture
async def user_id(client: TestClient, admin: dict[str, str]) -> str:
    body = {"user": {"email": "reg@example.com", "password": PASSWORD}}
    response = await client.post("/api/user", json=body, headers=admin)
    return str((await response.json())["user"]["id"])


async def register(
    client: TestClient, admin: dict[str, str], user_id: str, **registration: Any
) -> Any:
    return await client.post(
        f"/api/user/registration/{user_id}",
        json={"registration": registration},
        headers=admin,
    )


async def test_register_an_existing_user(client, admin, app_id, user_id, clock):
    """
    The registration gets an id, sorted unique roles and timestamps.
    """
    response = await register(
        client, admin, user_id, applicationId=app_id, roles=["user", "admin", "user"]
    )
    registration = (await response.json())["registration"]

    assert 200 == response.status
    assert app_id == registration["applicationId"]
    assert ["admin", "user"] == registration["roles"]
    assert registration["verified"] is True
    assert clock.now == registration["insertInstant"]
    assert 4 == uuid.UUID(registration["id"]).version


async def test_default_roles_are_given_when_none_are_asked_for(
    client, admin, app_id, user_id
):
    """
    Without roles, the application's default roles are added.
    """
    response = await register(client, admin, user_id, applicationId=app_id)

    assert ["user", "viewer"] == (await response.json())["registration"]["roles"]


async def test_registration_shows_on_the_user(client, admin, app_id, user_id):
    """
    The user document lists its registrations.
    """
    await register(client, admin, user_id, applicationId=app_id, username="piper")

    response = await client.get(f"/api/user/{user_id}", headers=admin)
    registrations = (await response.json())["user"]["registrations"]

    assert [(app_id, "piper")] == [
        (r["applicationId"], r["username"]) for r in registrations
    ]


async def test_registering_twice_is_a_duplicate(client, admin, app_id, user_id):
    """
    A second registration for one application is refused.
    """
    await register(client, admin, user_id, applicationId=app_id)

    response = await register(client, admin, user_id, applicationId=app_id)
    body = await response.json()

    assert {"[duplicate]registration.applicationId"} == codes(body)
    message = body["fieldErrors"]["registration.applicationId"][0]["message"]
    assert "The user is already registered for this application." == message


async def test_registration_errors_are_reported(client, admin, app_id, user_id):
    """
    A missing or unknown application and unknown roles are field errors.
    """
    missing = await register(client, admin, user_id)
    unknown = await register(client, admin, user_id, applicationId=str(uuid.uuid4()))
    bad_role = await register(client, admin, user_id, applicationId=app_id, roles=["x"])
    bad_id = await register(client, admin, user_id, applicationId="nope")

    assert {"[missing]registration.applicationId"} == codes(await missing.json())
    assert {"[invalid]registration.applicationId"} == codes(await unknown.json())
    assert {"[invalid]registration.roles"} == codes(await bad_role.json())
    assert {"[couldNotConvert]registration.applicationId"} == codes(await bad_id.json())
    user = await client.get(f"/api/user/{user_id}", headers=admin)
    assert "registrations" not in (await user.json())["user"]


async def test_registering_an_unknown_user_is_not_found(client, admin, app_id):
    """
    Without ``user`` in the body the user must exist.
    """
    response = await register(client, admin, str(uuid.uuid4()), applicationId=app_id)

    assert 404 == response.status


async def test_combined_create_makes_user_and_registration(client, admin, app_id):
    """
    With ``user`` in the body both are created, in one commit.
    """
    body = {
        "user": {"email": "Both@Example.com", "password": PASSWORD},
        "registration": {"applicationId": app_id, "roles": ["admin"]},
    }

    response = await client.post("/api/user/registration", json=body, headers=admin)
    answer = await response.json()

    assert 200 == response.status
    assert "both@example.com" == answer["user"]["email"]
    assert ["admin"] == answer["registration"]["roles"]
    assert [answer["registration"]] == answer["user"]["registrations"]


async def test_combined_create_uses_the_path_id(client, admin, app_id):
    """
    ``POST /api/user/registration/{userId}`` with a user creates that id.
    """
    new_id = str(uuid.uuid4())
    body = {
        "user": {"username": "pathy", "password": PASSWORD},
        "registration": {"applicationId": app_id},
    }

    response = await client.post(
        f"/api/user/registration/{new_id}", json=body, headers=admin
    )

    assert new_id == (await response.json())["user"]["id"]


async def test_combined_create_reports_user_and_registration_errors(
    client, admin, user_id
):
    """
    Errors of both parts come back together and nothing is created.
    """
    body = {
        "user": {"email": "reg@example.com", "password": "short"},
        "registration": {"applicationId": str(uuid.uuid4())},
    }

    response = await client.post("/api/user/registration", json=body, headers=admin)

    expected = {
        "[duplicate]user.email",
        "[tooShort]user.password",
        "[invalid]registration.applicationId",
    }
    assert expected == codes(await response.json())


async def test_combined_create_with_a_bad_registration_creates_no_user(client, admin):
    """
    The user is not created when only the registration is wrong.
    """
    body = {
        "user": {"email": "half@example.com", "password": PASSWORD},
        "registration": {},
    }

    response = await client.post("/api/user/registration", json=body, headers=admin)
    lookup = await client.get("/api/user?email=half@example.com", headers=admin)

    assert {"[missing]registration.applicationId"} == codes(await response.json())
    assert 404 == lookup.status


async def test_retrieve_update_and_delete_a_registration(
    client, admin, app_id, user_id
):
    """
    GET returns it, PUT replaces roles and data, DELETE removes it.
    """
    await register(client, admin, user_id, applicationId=app_id, roles=["admin"])
    path = f"/api/user/registration/{user_id}/{app_id}"

    got = await client.get(path, headers=admin)
    body = {"registration": {"roles": ["viewer"], "data": {"x": 1}}}
    put = await client.put(path, json=body, headers=admin)
    deleted = await client.delete(path, headers=admin)
    gone = await client.get(path, headers=admin)

    before = (await got.json())["registration"]
    after = (await put.json())["registration"]
    assert ["admin"] == before["roles"]
    assert (["viewer"], {"x": 1}) == (after["roles"], after["data"])
    assert before["id"] == after["id"]
    assert (200, 404) == (deleted.status, gone.status)


async def test_update_by_user_id_takes_the_application_from_the_body(
    client, admin, app_id, user_id
):
    """
    ``PUT /api/user/registration/{userId}`` as the official client sends it.
    """
    await register(client, admin, user_id, applicationId=app_id)
    body = {"registration": {"applicationId": app_id, "roles": ["admin"]}}

    response = await client.put(
        f"/api/user/registration/{user_id}", json=body, headers=admin
    )

    assert ["admin"] == (await response.json())["registration"]["roles"]


async def test_patch_registration_appends_roles(client, admin, app_id, user_id):
    """
    PATCH merges: roles are appended and stay sorted and unique.
    """
    await register(client, admin, user_id, applicationId=app_id, roles=["user"])
    body = {"registration": {"roles": ["admin", "user"]}}

    response = await client.patch(
        f"/api/user/registration/{user_id}/{app_id}", json=body, headers=admin
    )

    assert ["admin", "user"] == (await response.json())["registration"]["roles"]


async def test_update_with_an_undefined_role_changes_nothing(
    client, admin, app_id, user_id
):
    """
    An unknown role on update is refused and the registration is kept.
    """
    await register(client, admin, user_id, applicationId=app_id, roles=["admin"])
    path = f"/api/user/registration/{user_id}/{app_id}"
    before = await (await client.get(path, headers=admin)).json()

    response = await client.put(
        path, json={"registration": {"roles": ["root"]}}, headers=admin
    )
    after = await (await client.get(path, headers=admin)).json()

    assert {"[invalid]registration.roles"} == codes(await response.json())
    assert before == after


async def test_missing_registrations_are_not_found(client, admin, app_id, user_id):
    """
    GET, PUT and DELETE of a registration that does not exist answer 404.
    """
    path = f"/api/user/registration/{user_id}/{app_id}"
    body = {"registration": {"roles": []}}

    got = await client.get(path, headers=admin)
    put = await client.put(path, json=body, headers=admin)
    deleted = await client.delete(path, headers=admin)
    malformed = await client.get(f"/api/user/registration/{user_id}/x", headers=admin)

    assert [404] * 4 == [r.status for r in (got, put, deleted, malformed)]


async def test_registration_api_needs_an_api_key(client, app_id, user_id):
    """
    No key, or a wrong one, answers 401.
    """
    body = {"registration": {"applicationId": app_id}}

    missing = await client.post(f"/api/user/registration/{user_id}", json=body)
    wrong = await client.get(
        f"/api/user/registration/{user_id}/{app_id}",
        headers={"Authorization": "not-the-key-value"},
    )

    assert (401, 401) == (missing.status, wrong.status)


async def test_concurrent_registrations_for_one_application_make_one(
    client, admin, app_id, user_id
):
    """
    Of two simultaneous registrations for one application exactly one succeeds.
    """
    responses = await asyncio.gather(
        *(register(client, admin, user_id, applicationId=app_id) for _ in range(2))
    )

    assert [200, 400] == sorted(r.status for r in responses)


async def test_combined_create_is_one_commit(client, admin, app_id, rt):
    """
    The user and the registration are two events of one append.
    """
    body = {
        "user": {"email": "one@example.com", "password": PASSWORD},
        "registration": {"applicationId": app_id},
    }

    response = await client.post("/api/user/registration", json=body, headers=admin)
    user_id = (await response.json())["user"]["id"]
    version, doc = await load_user(rt, user_id)

    assert 2 == version
    assert [app_id] == [r["applicationId"] for r in doc["registrations"]]
