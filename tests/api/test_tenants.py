"""
The Tenant API over real HTTP.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from loginsvc.defaults import DEFAULT_SIGNING_KEY_ID, DEFAULT_TENANT_ID
from tests.api.support import codes

PATH = f"/api/tenant/{DEFAULT_TENANT_ID}"


async def current(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    response = await client.get(PATH, headers=admin)
    return dict((await response.json())["tenant"])


async def test_list_and_retrieve_the_default_tenant(client, admin):
    """
    The list holds one tenant, the default one, with FusionAuth's settings.
    """
    listed = await client.get("/api/tenant", headers=admin)

    tenants = (await listed.json())["tenants"]
    assert [DEFAULT_TENANT_ID] == [t["id"] for t in tenants]
    assert tenants[0] == await current(client, admin)
    assert 3600 == tenants[0]["jwtConfiguration"]["timeToLiveInSeconds"]


async def test_other_tenant_ids_are_not_found(client, admin):
    """
    Unknown and malformed tenant ids answer 404.
    """
    unknown = await client.get(f"/api/tenant/{uuid.uuid4()}", headers=admin)
    malformed = await client.get("/api/tenant/nope", headers=admin)
    put = await client.put(
        f"/api/tenant/{uuid.uuid4()}",
        json={"tenant": {"name": "x", "issuer": "y"}},
        headers=admin,
    )

    assert (404, 404, 404) == (unknown.status, malformed.status, put.status)


async def test_tenant_header_must_name_the_default_tenant(client, admin):
    """
    ``X-FusionAuth-TenantId`` naming another tenant answers ``[invalid]tenantId``.
    """
    headers = {**admin, "X-FusionAuth-TenantId": str(uuid.uuid4())}

    response = await client.get("/api/tenant", headers=headers)

    assert {"[invalid]tenantId"} == codes(await response.json())


async def test_patch_merges_settings_and_stamps_the_update(client, admin, clock):
    """
    PATCH changes only what it names and moves lastUpdateInstant.
    """
    clock.advance(10)
    body = {"tenant": {"jwtConfiguration": {"timeToLiveInSeconds": 60}}}

    response = await client.patch(PATH, json=body, headers=admin)
    tenant = (await response.json())["tenant"]

    assert 200 == response.status
    assert 60 == tenant["jwtConfiguration"]["timeToLiveInSeconds"]
    assert "Fixed" == tenant["jwtConfiguration"]["refreshTokenExpirationPolicy"]
    assert clock.now == tenant["lastUpdateInstant"]
    assert tenant == await current(client, admin)


async def test_put_replaces_settings_and_defaults_what_it_leaves_out(client, admin):
    """
    PUT is a full update: settings left out return to FusionAuth's defaults.
    """
    await client.patch(
        PATH,
        json={"tenant": {"loginConfiguration": {"requireAuthentication": False}}},
        headers=admin,
    )
    body = {"tenant": {"name": "Main", "issuer": "example.com"}}

    response = await client.put(PATH, json=body, headers=admin)
    tenant = (await response.json())["tenant"]

    assert ("Main", "example.com") == (tenant["name"], tenant["issuer"])
    assert tenant["loginConfiguration"]["requireAuthentication"] is True
    assert DEFAULT_TENANT_ID == tenant["id"]


async def test_put_needs_a_name_and_an_issuer(client, admin):
    """
    A full update without name and issuer is refused.
    """
    response = await client.put(PATH, json={"tenant": {}}, headers=admin)

    assert {"[blank]tenant.name", "[blank]tenant.issuer"} == codes(
        await response.json()
    )


async def test_settings_that_would_break_login_are_refused(client, admin):
    """
    Negative lifetimes, unknown keys and actions, bad enums and types.
    """
    before = await current(client, admin)
    body = {
        "tenant": {
            "externalIdentifierConfiguration": {"twoFactorIdTimeToLiveInSeconds": -5},
            "jwtConfiguration": {"accessTokenKeyId": str(uuid.uuid4())},
            "failedAuthenticationConfiguration": {
                "userActionId": str(uuid.uuid4()),
                "actionDurationUnit": "FORTNIGHTS",
            },
            "multiFactorConfiguration": {"loginPolicy": "Maybe"},
            "emailConfiguration": {"verifyEmail": "yes"},
            "passwordValidationRules": {"minLength": 10, "maxLength": 5},
            "loginConfiguration": [],
        }
    }

    response = await client.patch(PATH, json=body, headers=admin)

    prefix = "tenant."
    expected = {
        f"[invalid]{prefix}externalIdentifierConfiguration."
        "twoFactorIdTimeToLiveInSeconds",
        f"[invalid]{prefix}jwtConfiguration.accessTokenKeyId",
        f"[invalid]{prefix}failedAuthenticationConfiguration.userActionId",
        f"[invalid]{prefix}failedAuthenticationConfiguration.actionDurationUnit",
        f"[invalid]{prefix}multiFactorConfiguration.loginPolicy",
        f"[couldNotConvert]{prefix}emailConfiguration.verifyEmail",
        f"[invalid]{prefix}passwordValidationRules.maxLength",
        f"[couldNotConvert]{prefix}loginConfiguration",
    }
    assert expected == codes(await response.json())
    assert before == await current(client, admin)


async def test_references_to_existing_keys_and_actions_are_accepted(client, admin):
    """
    The default signing key and a defined user action may be named.
    """
    action = await client.post(
        "/api/user-action",
        json={"userAction": {"name": "Lock", "preventLogin": True, "temporal": True}},
        headers=admin,
    )
    action_id = (await action.json())["userAction"]["id"]
    body = {
        "tenant": {
            "jwtConfiguration": {"accessTokenKeyId": DEFAULT_SIGNING_KEY_ID},
            "failedAuthenticationConfiguration": {"userActionId": action_id},
        }
    }

    response = await client.patch(PATH, json=body, headers=admin)

    failed = (await response.json())["tenant"]["failedAuthenticationConfiguration"]
    assert action_id == failed["userActionId"]


async def test_null_in_a_patch_restores_the_default(client, admin):
    """
    A setting patched to null gets FusionAuth's default back.
    """
    await client.patch(
        PATH,
        json={"tenant": {"jwtConfiguration": {"timeToLiveInSeconds": 60}}},
        headers=admin,
    )
    body = {"tenant": {"jwtConfiguration": {"timeToLiveInSeconds": None}}}

    response = await client.patch(PATH, json=body, headers=admin)

    jwt = (await response.json())["tenant"]["jwtConfiguration"]
    assert 3600 == jwt["timeToLiveInSeconds"]


async def test_password_rules_apply_to_new_users(client, admin):
    """
    Tenant password rules are what user creation checks.
    """
    rules = {"minLength": 12, "requireNumber": True, "requireMixedCase": True}
    await client.patch(
        PATH, json={"tenant": {"passwordValidationRules": rules}}, headers=admin
    )
    body = {"user": {"email": "rules@example.com", "password": "alllowercase"}}

    response = await client.post("/api/user", json=body, headers=admin)

    expected = {"[requireNumber]user.password", "[singleCase]user.password"}
    assert expected == codes(await response.json())


async def test_tenant_api_needs_an_api_key(client):
    """
    No key, or a wrong one, answers 401.
    """
    missing = await client.get("/api/tenant")
    wrong = await client.patch(
        PATH, json={"tenant": {}}, headers={"Authorization": "not-the-key-value"}
    )

    assert (401, 401) == (missing.status, wrong.status)
