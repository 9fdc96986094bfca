"""
The Application API over real HTTP.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from loginsvc.defaults import (
    DEFAULT_SIGNING_KEY_ID,
    DEFAULT_TENANT_ID,
    FUSIONAUTH_APPLICATION_ID,
)
from tests.api.support import codes


async def create(
    client: TestClient, admin: dict[str, str], **app: Any
) -> dict[str, Any]:
    app.setdefault("name", "Pied Piper")
    response = await client.post(
        "/api/application", json={"application": app}, headers=admin
    )
    assert 200 == response.status, await response.text()
    return dict((await response.json())["application"])


async def fetch(client: TestClient, admin: dict[str, str], app_id: str) -> Any:
    response = await client.get(f"/api/application/{app_id}", headers=admin)
    if response.status != 200:
        return response.status
    return (await response.json())["application"]


async def test_create_application_fills_fusionauth_defaults(client, admin):
    """
    A new application is active with FusionAuth's default settings.
    """
    app = await create(client, admin, roles=[{"name": "admin"}])

    assert app["active"] is True
    assert DEFAULT_TENANT_ID == app["tenantId"]
    expected_login = {
        "allowTokenRefresh": False,
        "generateRefreshTokens": False,
        "requireAuthentication": True,
    }
    assert expected_login == app["loginConfiguration"]
    assert {"enabled": False} == app["jwtConfiguration"]
    assert {"loginPolicy": "Enabled"} == app["multiFactorConfiguration"]
    assert {"scopeHandlingPolicy": "Strict"} == app["oauthConfiguration"]
    assert app["verifyRegistration"] is False
    role = app["roles"][0]
    assert ("admin", False, False) == (
        role["name"],
        role["isDefault"],
        role["isSuperRole"],
    )
    assert 4 == uuid.UUID(role["id"]).version


async def test_given_settings_are_merged_into_the_defaults(client, admin):
    """
    A partial loginConfiguration keeps the defaults it leaves out.
    """
    app = await create(
        client, admin, loginConfiguration={"generateRefreshTokens": True}
    )

    assert app["loginConfiguration"]["generateRefreshTokens"] is True
    assert app["loginConfiguration"]["requireAuthentication"] is True


async def test_create_application_with_an_id_and_again_is_a_duplicate(client, admin):
    """
    ``POST /api/application/{id}`` uses the id; a second create is refused.
    """
    app_id = str(uuid.uuid4())
    body = {"application": {"name": "Hooli"}}

    first = await client.post(f"/api/application/{app_id}", json=body, headers=admin)
    second = await client.post(f"/api/application/{app_id}", json=body, headers=admin)

    assert app_id == (await first.json())["application"]["id"]
    assert {"[duplicate]application.id"} == codes(await second.json())


async def test_application_needs_a_name(client, admin):
    """
    A missing name answers ``[blank]application.name`` and creates nothing.
    """
    before = await client.get("/api/application", headers=admin)

    response = await client.post(
        "/api/application", json={"application": {}}, headers=admin
    )
    after = await client.get("/api/application", headers=admin)

    assert {"[blank]application.name"} == codes(await response.json())
    assert await before.json() == await after.json()


async def test_enabled_jwt_configuration_needs_its_lifetimes(client, admin):
    """
    With JWTs enabled, both time-to-live settings are required.
    """
    body = {"application": {"name": "J", "jwtConfiguration": {"enabled": True}}}

    response = await client.post("/api/application", json=body, headers=admin)

    expected = {
        "[blank]application.jwtConfiguration.timeToLiveInSeconds",
        "[blank]application.jwtConfiguration.refreshTokenTimeToLiveInMinutes",
    }
    assert expected == codes(await response.json())


async def test_settings_with_bad_values_are_refused(client, admin):
    """
    Bad enums, negative lifetimes, unknown keys and wrong types are reported.
    """
    body = {
        "application": {
            "name": "Bad",
            "jwtConfiguration": {
                "enabled": True,
                "timeToLiveInSeconds": -1,
                "refreshTokenTimeToLiveInMinutes": "long",
                "accessTokenKeyId": str(uuid.uuid4()),
            },
            "multiFactorConfiguration": {"loginPolicy": "Sometimes"},
            "oauthConfiguration": "strict",
            "loginConfiguration": {"requireAuthentication": "yes"},
            "roles": [{"name": "a"}, {"name": "a"}, {"description": "no name"}],
        }
    }

    response = await client.post("/api/application", json=body, headers=admin)

    expected = {
        "[invalid]application.jwtConfiguration.timeToLiveInSeconds",
        "[couldNotConvert]application.jwtConfiguration.refreshTokenTimeToLiveInMinutes",
        "[invalid]application.jwtConfiguration.accessTokenKeyId",
        "[invalid]application.multiFactorConfiguration.loginPolicy",
        "[couldNotConvert]application.oauthConfiguration",
        "[couldNotConvert]application.loginConfiguration.requireAuthentication",
        "[duplicate]application.roles",
        "[blank]application.roles.name",
    }
    assert expected == codes(await response.json())


async def test_jwt_configuration_may_name_an_existing_key(client, admin):
    """
    The default signing key is a valid ``accessTokenKeyId``.
    """
    jwt = {
        "enabled": True,
        "timeToLiveInSeconds": 60,
        "refreshTokenTimeToLiveInMinutes": 60,
        "accessTokenKeyId": DEFAULT_SIGNING_KEY_ID,
    }

    app = await create(client, admin, jwtConfiguration=jwt)

    assert DEFAULT_SIGNING_KEY_ID == app["jwtConfiguration"]["accessTokenKeyId"]


async def test_list_and_retrieve_applications(client, admin):
    """
    The list holds the FusionAuth application and new ones; one is retrievable.
    """
    app = await create(client, admin)

    listed = await client.get("/api/application", headers=admin)
    ids = {a["id"] for a in (await listed.json())["applications"]}

    assert {FUSIONAUTH_APPLICATION_ID, app["id"]} == ids
    assert app == await fetch(client, admin, app["id"])


async def test_unknown_or_malformed_application_ids_are_not_found(client, admin):
    """
    GET, PUT and DELETE answer 404 for ids that name nothing.
    """
    unknown = f"/api/application/{uuid.uuid4()}"
    body = {"application": {"name": "X"}}

    get = await client.get(unknown, headers=admin)
    put = await client.put(unknown, json=body, headers=admin)
    delete = await client.delete("/api/application/nope", headers=admin)

    assert (404, 404, 404) == (get.status, put.status, delete.status)


async def test_application_api_needs_an_api_key(client):
    """
    No key, or a wrong one, answers 401.
    """
    body = {"application": {"name": "X"}}

    missing = await client.post("/api/application", json=body)
    wrong = await client.get(
        "/api/application", headers={"Authorization": "not-the-key-value"}
    )

    assert (401, 401) == (missing.status, wrong.status)


async def test_update_replaces_settings_and_keeps_roles(client, admin):
    """
    PUT resets settings it leaves out; roles are kept when not given.
    """
    app = await create(
        client,
        admin,
        roles=[{"name": "admin"}],
        loginConfiguration={"generateRefreshTokens": True},
    )

    response = await client.put(
        f"/api/application/{app['id']}",
        json={"application": {"name": "Renamed"}},
        headers=admin,
    )
    updated = (await response.json())["application"]

    assert "Renamed" == updated["name"]
    assert updated["loginConfiguration"]["generateRefreshTokens"] is False
    assert app["roles"][0]["id"] == updated["roles"][0]["id"]
    assert app["insertInstant"] == updated["insertInstant"]


async def test_patch_merges_settings_and_appends_roles(client, admin):
    """
    PATCH changes only what it names; a new role is appended.
    """
    app = await create(client, admin, roles=[{"name": "admin"}])
    body = {
        "application": {
            "loginConfiguration": {"generateRefreshTokens": True},
            "roles": [{"name": "viewer", "isDefault": True}],
        }
    }

    response = await client.patch(
        f"/api/application/{app['id']}", json=body, headers=admin
    )
    patched = (await response.json())["application"]

    assert "Pied Piper" == patched["name"]
    assert patched["loginConfiguration"]["generateRefreshTokens"] is True
    assert patched["loginConfiguration"]["requireAuthentication"] is True
    assert ["admin", "viewer"] == [r["name"] for r in patched["roles"]]


async def test_rejected_update_changes_nothing(client, admin):
    """
    An invalid PUT leaves the application as it was.
    """
    app = await create(client, admin)
    body = {"application": {"name": "", "verifyRegistration": "no"}}

    response = await client.put(
        f"/api/application/{app['id']}", json=body, headers=admin
    )

    expected = {
        "[blank]application.name",
        "[couldNotConvert]application.verifyRegistration",
    }
    assert expected == codes(await response.json())
    assert app == await fetch(client, admin, app["id"])


async def test_delete_deactivates_and_reactivate_restores(client, admin):
    """
    DELETE sets active false (listed as inactive); ``?reactivate`` undoes it.
    """
    app = await create(client, admin)

    deleted = await client.delete(f"/api/application/{app['id']}", headers=admin)
    inactive = await client.get("/api/application?inactive=true", headers=admin)
    reactivated = await client.put(
        f"/api/application/{app['id']}?reactivate=true", headers=admin
    )

    assert 200 == deleted.status
    assert [app["id"]] == [a["id"] for a in (await inactive.json())["applications"]]
    assert (await reactivated.json())["application"]["active"] is True


async def test_hard_delete_removes_the_application(client, admin):
    """
    ``?hardDelete=true`` deletes it for good.
    """
    app = await create(client, admin)

    response = await client.delete(
        f"/api/application/{app['id']}?hardDelete=true", headers=admin
    )

    assert 200 == response.status
    assert 404 == await fetch(client, admin, app["id"])


async def test_roles_can_be_added_one_by_one(client, admin):
    """
    ``POST /api/application/{id}/role`` adds a role; its name must be new.
    """
    app = await create(client, admin, roles=[{"name": "admin"}])
    path = f"/api/application/{app['id']}/role"

    added = await client.post(path, json={"role": {"name": "editor"}}, headers=admin)
    again = await client.post(path, json={"role": {"name": "admin"}}, headers=admin)

    assert "editor" == (await added.json())["role"]["name"]
    assert {"[duplicate]role.name"} == codes(await again.json())
    assert ["admin", "editor"] == [
        r["name"] for r in (await fetch(client, admin, app["id"]))["roles"]
    ]
