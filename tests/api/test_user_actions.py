"""
User action definitions and actioning users, over real HTTP.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from events.user_actions import preventing_actions
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.services.lookup import load_user
from tests.api.support import PASSWORD, codes


async def define(client: TestClient, admin: dict[str, str], **fields: Any) -> str:
    fields.setdefault("name", "Lock")
    response = await client.post(
        "/api/user-action", json={"userAction": fields}, headers=admin
    )
    assert 200 == response.status, await response.text()
    return str((await response.json())["userAction"]["id"])


@pytest.fixture
async def lock_id(client: TestClient, admin: dict[str, str]) -> str:
    return await define(client, admin, preventLogin=True, temporal=True)


@pytest.fixture
async def user_id(client: TestClient, admin: dict[str, str]) -> str:
    body = {"user": {"email": "acted@example.com", "password": PASSWORD}}
    response = await client.post("/api/user", json=body, headers=admin)
    return str((await response.json())["user"]["id"])


async def apply(client: TestClient, admin: dict[str, str], **action: Any) -> Any:
    return await client.post(
        "/api/user/action", json={"broadcast": False, "action": action}, headers=admin
    )


async def lock(client, admin, user_id, lock_id, clock, **extra: Any) -> dict:
    response = await apply(
        client,
        admin,
        actioneeUserId=user_id,
        userActionId=lock_id,
        expiry=clock.now + 60_000,
        comment="Too many tries",
        **extra,
    )
    assert 200 == response.status, await response.text()
    return dict((await response.json())["action"])


async def test_define_list_and_retrieve_user_actions(client, admin):
    """
    A definition is active, listed, and retrievable by id.
    """
    ident = await define(client, admin, preventLogin=True, temporal=True)

    listed = await client.get("/api/user-action", headers=admin)
    one = await client.get(f"/api/user-action/{ident}", headers=admin)
    definition = (await one.json())["userAction"]

    assert [ident] == [d["id"] for d in (await listed.json())["userActions"]]
    assert ("Lock", True, True, True) == (
        definition["name"],
        definition["active"],
        definition["preventLogin"],
        definition["temporal"],
    )


async def test_definition_errors_are_reported(client, admin):
    """
    A definition needs a name; flags must be booleans.
    """
    body = {"userAction": {"preventLogin": "yes"}}

    response = await client.post("/api/user-action", json=body, headers=admin)

    expected = {"[blank]userAction.name", "[couldNotConvert]userAction.preventLogin"}
    assert expected == codes(await response.json())


async def test_update_deactivate_and_delete_a_definition(client, admin):
    """
    PUT renames, DELETE deactivates, ``?hardDelete`` removes it.
    """
    ident = await define(client, admin)
    path = f"/api/user-action/{ident}"

    put = await client.put(path, json={"userAction": {"name": "Ban"}}, headers=admin)
    await client.delete(path, headers=admin)
    inactive = await client.get("/api/user-action?inactive=true", headers=admin)
    await client.delete(f"{path}?hardDelete=true", headers=admin)
    gone = await client.get(path, headers=admin)

    assert "Ban" == (await put.json())["userAction"]["name"]
    assert [ident] == [d["id"] for d in (await inactive.json())["userActions"]]
    assert 404 == gone.status


async def test_apply_a_prevent_login_action(client, admin, user_id, lock_id, clock, rt):
    """
    The action is returned without internal fields and prevents login.
    """
    action = await lock(client, admin, user_id, lock_id, clock)
    _version, doc = await load_user(rt, user_id)

    assert (user_id, lock_id, "Lock", "Lock") == (
        action["actioneeUserId"],
        action["userActionId"],
        action["name"],
        action["localizedName"],
    )
    assert clock.now == action["insertInstant"]
    assert "preventLogin" not in action
    prevented = preventing_actions(doc, None, clock.now)
    assert [action["id"]] == [p["actionId"] for p in prevented]


async def test_apply_errors_are_reported(client, admin, user_id, lock_id):
    """
    Unknown users and definitions, and a temporal action without expiry.
    """
    unknown_user = await apply(
        client,
        admin,
        actioneeUserId=str(uuid.uuid4()),
        userActionId=lock_id,
        expiry=2**62,
    )
    unknown_action = await apply(
        client, admin, actioneeUserId=user_id, userActionId=str(uuid.uuid4())
    )
    no_expiry = await apply(client, admin, actioneeUserId=user_id, userActionId=lock_id)

    assert {"[invalid]action.actioneeUserId"} == codes(await unknown_user.json())
    assert {"[invalid]action.userActionId"} == codes(await unknown_action.json())
    assert {"[blank]action.expiry"} == codes(await no_expiry.json())


async def test_apply_checks_types_and_application_ids(client, admin, user_id, lock_id):
    """
    Malformed ids cannot be converted; unknown applications are invalid.
    """
    response = await apply(
        client,
        admin,
        actioneeUserId="nope",
        userActionId=lock_id,
        expiry="later",
        applicationIds=[str(uuid.uuid4())],
    )

    expected = {
        "[couldNotConvert]action.actioneeUserId",
        "[couldNotConvert]action.expiry",
        "[invalid]action.applicationIds",
    }
    assert expected == codes(await response.json())


async def test_list_actions_of_a_user(client, admin, user_id, lock_id, clock):
    """
    All, active and preventing-login actions; an expired lock drops out.
    """
    action = await lock(client, admin, user_id, lock_id, clock)
    query = f"/api/user/action?userId={user_id}"

    every = await client.get(query, headers=admin)
    clock.advance(120)
    active = await client.get(f"{query}&active=true", headers=admin)
    preventing = await client.get(f"{query}&preventingLogin=true", headers=admin)

    assert [action] == (await every.json())["actions"]
    assert [] == (await active.json())["actions"]
    assert [] == (await preventing.json())["actions"]


async def test_cancel_an_action_ends_it(client, admin, user_id, lock_id, clock, rt):
    """
    DELETE /api/user/action/{id} cancels; a second cancel is 404.
    """
    action = await lock(client, admin, user_id, lock_id, clock)
    body = {"action": {"actionerUserId": user_id, "comment": "Forgiven"}}

    first = await client.delete(
        f"/api/user/action/{action['id']}", json=body, headers=admin
    )
    second = await client.delete(f"/api/user/action/{action['id']}", headers=admin)
    _version, doc = await load_user(rt, user_id)

    assert 200 == first.status
    assert (action["id"], "Forgiven") == (
        (await first.json())["action"]["id"],
        (await first.json())["action"]["comment"],
    )
    assert 404 == second.status
    assert [] == preventing_actions(doc, None, clock.now)


async def test_retrieve_one_applied_action(client, admin, user_id, lock_id, clock):
    """
    GET /api/user/action/{id} returns the action; unknown ids are 404.
    """
    action = await lock(client, admin, user_id, lock_id, clock)

    found = await client.get(f"/api/user/action/{action['id']}", headers=admin)
    unknown = await client.get(f"/api/user/action/{uuid.uuid4()}", headers=admin)

    assert action == (await found.json())["action"]
    assert 404 == unknown.status


async def test_cancel_of_unknown_actions_is_not_found(client, admin):
    """
    Unknown and malformed action ids answer 404.
    """
    unknown = await client.delete(f"/api/user/action/{uuid.uuid4()}", headers=admin)
    malformed = await client.delete("/api/user/action/nope", headers=admin)

    assert (404, 404) == (unknown.status, malformed.status)


async def test_actions_scoped_to_an_application(
    client, admin, user_id, lock_id, clock, rt
):
    """
    An action for one application prevents login only to that one.
    """
    app = await client.post(
        "/api/application", json={"application": {"name": "A"}}, headers=admin
    )
    app_id = (await app.json())["application"]["id"]

    await lock(client, admin, user_id, lock_id, clock, applicationIds=[app_id])
    _version, doc = await load_user(rt, user_id)

    assert 1 == len(preventing_actions(doc, app_id, clock.now))
    assert [] == preventing_actions(doc, str(uuid.uuid4()), clock.now)


async def test_hard_deleting_the_user_forgets_its_actions(
    client, admin, user_id, lock_id, clock
):
    """
    After a hard delete the action id names nothing.
    """
    action = await lock(client, admin, user_id, lock_id, clock)

    await client.delete(f"/api/user/{user_id}?hardDelete=true", headers=admin)
    found = await client.get(f"/api/user/action/{action['id']}", headers=admin)

    assert 404 == found.status


async def test_user_action_apis_need_an_api_key(client, user_id, lock_id):
    """
    No key, or a wrong one, answers 401.
    """
    body = {"action": {"actioneeUserId": user_id, "userActionId": lock_id}}

    missing = await client.post("/api/user/action", json=body)
    wrong = await client.get(
        "/api/user-action", headers={"Authorization": "not-the-key-value"}
    )

    assert (401, 401) == (missing.status, wrong.status)


async def logged_in_refresh_token(client: TestClient, admin: dict[str, str]) -> tuple:
    app = await client.post(
        "/api/application",
        json={
            "application": {
                "name": "R",
                "loginConfiguration": {
                    "generateRefreshTokens": True,
                    "allowTokenRefresh": True,
                },
            }
        },
        headers=admin,
    )
    app_id = (await app.json())["application"]["id"]
    body = {
        "user": {"email": "refresh@example.com", "password": PASSWORD},
        "registration": {"applicationId": app_id},
    }
    created = await client.post("/api/user/registration", json=body, headers=admin)
    login = await client.post(
        "/api/login",
        json={
            "loginId": "refresh@example.com",
            "password": PASSWORD,
            "applicationId": app_id,
        },
        headers=admin,
    )
    assert 200 == login.status, await login.text()
    user_id = (await created.json())["user"]["id"]
    return user_id, (await login.json())["refreshToken"]


async def test_a_prevent_login_action_revokes_refresh_tokens(
    client, admin, lock_id, clock
):
    """
    With the tenant's default onLoginPrevented policy, refresh tokens die.
    """
    user_id, token = await logged_in_refresh_token(client, admin)

    await lock(client, admin, user_id, lock_id, clock)
    refreshed = await client.post("/api/jwt/refresh", json={"refreshToken": token})

    assert 400 == refreshed.status


async def test_refresh_tokens_survive_when_the_tenant_says_so(
    client, admin, lock_id, clock
):
    """
    With onLoginPrevented false, applying the action keeps refresh tokens.
    """
    policy = {"refreshTokenRevocationPolicy": {"onLoginPrevented": False}}
    await client.patch(
        f"/api/tenant/{DEFAULT_TENANT_ID}",
        json={"tenant": {"jwtConfiguration": policy}},
        headers=admin,
    )
    user_id, token = await logged_in_refresh_token(client, admin)

    await lock(client, admin, user_id, lock_id, clock)
    refreshed = await client.post("/api/jwt/refresh", json={"refreshToken": token})

    assert 200 == refreshed.status
