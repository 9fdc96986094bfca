"""
``POST /api/login`` driven by the official ``fusionauth-client`` package over
real HTTP: every status of FusionAuth's decision order.
"""

from __future__ import annotations

import asyncio
import uuid
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from fusionauth.fusionauth_client import FusionAuthClient

from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.runtime import Runtime
from tests.conftest import API_KEY, Clock

PASSWORD = "correct horse battery"


class Admin:
    """
    The official client, called off the event loop (it is synchronous).
    """

    def __init__(self, client: TestClient) -> None:
        self.fa = FusionAuthClient(API_KEY, str(client.make_url("")).rstrip("/"))

    async def call(self, method: str, *args: Any) -> Any:
        response = await asyncio.to_thread(getattr(self.fa, method), *args)
        return response

    async def ok(self, method: str, *args: Any) -> dict[str, Any]:
        response = await self.call(method, *args)
        assert response.was_successful(), (
            method,
            response.status,
            response.error_response,
        )
        return response.success_response or {}


@pytest.fixture
async def fa(client: TestClient) -> Admin:
    return Admin(client)


@pytest.fixture
async def app_id(fa: Admin) -> str:
    body = {
        "application": {
            "name": "Pied Piper",
            "roles": [{"name": "admin"}, {"name": "user", "isDefault": True}],
            "loginConfiguration": {"generateRefreshTokens": True},
        }
    }
    created = await fa.ok("create_application", body)
    return str(created["application"]["id"])


async def new_user(fa: Admin, app_id: str | None, **user: Any) -> dict[str, Any]:
    email = user.pop("email", f"{uuid.uuid4().hex[:10]}@example.com")
    body: dict[str, Any] = {
        "user": {"email": email, "password": PASSWORD, **user},
        "skipVerification": True,
    }
    if app_id is None:
        return (await fa.ok("create_user", body))["user"]
    body["registration"] = {"applicationId": app_id, "roles": ["admin"]}
    return (await fa.ok("register", body))["user"]


def login_body(login_id: str, app_id: str | None, **extra: Any) -> dict[str, Any]:
    body = {"loginId": login_id, "password": PASSWORD, **extra}
    if app_id:
        body["applicationId"] = app_id
    return body


async def test_login_answers_200_with_a_token_that_verifies_with_the_tenant_key(
    fa: Admin, app_id: str, rt: Runtime
) -> None:
    user = await new_user(fa, app_id)

    response = await fa.call("login", login_body(user["email"].upper(), app_id))

    assert 200 == response.status
    body = response.success_response
    claims = rt.keyring.verify(body["token"], rt.clock() // 1000)
    assert user["id"] == claims["sub"]
    assert app_id == claims["aud"] == claims["applicationId"]
    assert ["admin"] == claims["roles"]
    assert "PASSWORD" == claims["authenticationType"]
    assert DEFAULT_TENANT_ID == claims["tid"]
    assert body["refreshTokenId"] == claims["sid"]
    assert claims["exp"] * 1000 == body["tokenExpirationInstant"]
    assert "password" not in body["user"]
    assert body["user"]["lastLoginInstant"] >= user["insertInstant"]


async def test_login_sets_fusionauth_cookies(
    client: TestClient, fa: Admin, app_id: str
) -> None:
    """
    access_token is a session cookie, refresh_token has a Max-Age; both HttpOnly.
    """
    user = await new_user(fa, app_id)

    response = await client.post(
        "/api/login",
        json=login_body(user["email"], app_id),
        headers={"Authorization": API_KEY},
    )

    cookies = response.headers.getall("Set-Cookie")
    access = next(c for c in cookies if c.startswith("access_token="))
    refresh = next(c for c in cookies if c.startswith("refresh_token="))
    assert 200 == response.status
    assert "HttpOnly" in access and "SameSite=Lax" in access
    assert "Max-Age" not in access and "Domain" not in access
    assert "Max-Age=2592000" in refresh and "Path=/" in refresh


async def test_the_refresh_cookie_expires_by_the_service_clock(
    client: TestClient, fa: Admin, app_id: str, clock: Clock
) -> None:
    """
    ``Expires`` accompanies ``Max-Age``, dated from the service's own clock.
    """
    user = await new_user(fa, app_id)
    clock.advance(10 * 86400)

    response = await client.post(
        "/api/login",
        json=login_body(user["email"], app_id),
        headers={"Authorization": API_KEY},
    )

    cookies = response.headers.getall("Set-Cookie")
    refresh = next(c for c in cookies if c.startswith("refresh_token="))
    expires = formatdate(clock() // 1000 + 2592000, usegmt=True)
    assert f"expires={expires}" in refresh


async def test_login_with_no_jwt_issues_no_token_and_no_cookie(
    client: TestClient, fa: Admin, app_id: str
) -> None:
    user = await new_user(fa, app_id)

    response = await client.post(
        "/api/login",
        json=login_body(user["email"], app_id, noJWT=True),
        headers={"Authorization": API_KEY},
    )

    body = await response.json()
    assert 200 == response.status
    assert {"user"} == set(body)
    assert [] == response.headers.getall("Set-Cookie", [])


async def test_login_by_username_is_case_insensitive(fa: Admin, app_id: str) -> None:
    user = await new_user(fa, app_id, username="Richard")

    response = await fa.call("login", login_body("rICHARD", app_id))

    assert 200 == response.status
    assert user["id"] == response.success_response["user"]["id"]


async def test_login_reports_every_field_error_at_once(fa: Admin) -> None:
    response = await fa.call("login", {"applicationId": str(uuid.uuid4())})

    errors = response.error_response["fieldErrors"]
    assert 400 == response.status
    assert "[invalid]applicationId" == errors["applicationId"][0]["code"]
    assert "[blank]loginId" == errors["loginId"][0]["code"]
    assert "[blank]password" == errors["password"][0]["code"]


async def test_login_without_an_api_key_is_401(
    client: TestClient, fa: Admin, app_id: str
) -> None:
    user = await new_user(fa, app_id)
    anonymous = FusionAuthClient("wrong-key", str(client.make_url("")).rstrip("/"))

    response = await asyncio.to_thread(
        anonymous.login, login_body(user["email"], app_id)
    )

    assert 401 == response.status


async def test_login_needs_no_key_when_the_application_does_not_require_one(
    client: TestClient, fa: Admin, app_id: str
) -> None:
    user = await new_user(fa, app_id)
    patch = {"application": {"loginConfiguration": {"requireAuthentication": False}}}
    await fa.ok("patch_application", app_id, patch)

    response = await client.post("/api/login", json=login_body(user["email"], app_id))

    assert 200 == response.status


async def test_unknown_user_and_wrong_password_are_both_an_empty_404(
    client: TestClient, fa: Admin, app_id: str
) -> None:
    user = await new_user(fa, app_id)
    headers = {"Authorization": API_KEY}

    unknown = await client.post(
        "/api/login", json=login_body("nobody@example.com", app_id), headers=headers
    )
    wrong = await client.post(
        "/api/login",
        json={**login_body(user["email"], app_id), "password": "not it"},
        headers=headers,
    )

    assert (404, b"") == (unknown.status, await unknown.read())
    assert (404, b"") == (wrong.status, await wrong.read())


async def test_a_deactivated_user_gets_423(fa: Admin, app_id: str) -> None:
    user = await new_user(fa, app_id)
    await fa.ok("deactivate_user", user["id"])

    response = await fa.call("login", login_body(user["email"], app_id))

    assert 423 == response.status


async def test_a_prevent_login_action_gets_409_before_the_password_is_checked(
    fa: Admin, app_id: str, clock: Clock
) -> None:
    user = await new_user(fa, app_id)
    action = await fa.ok(
        "create_user_action",
        {"userAction": {"name": "Lock", "preventLogin": True, "temporal": True}},
    )
    action_id = action["userAction"]["id"]
    await fa.ok(
        "action_user",
        {
            "action": {
                "actioneeUserId": user["id"],
                "userActionId": action_id,
                "expiry": clock.now + 60_000,
                "comment": "test",
            }
        },
    )

    wrong = await fa.call(
        "login", {**login_body(user["email"], app_id), "password": "wrong"}
    )

    assert 409 == wrong.status
    actions = wrong.error_response.json()["actions"]
    assert "Lock" == actions[0]["name"]
    clock.advance(61)
    assert 200 == (await fa.call("login", login_body(user["email"], app_id))).status


async def test_an_expired_user_gets_410(fa: Admin, app_id: str, clock: Clock) -> None:
    user = await new_user(fa, app_id, expiry=clock.now + 1000)
    clock.advance(2)

    response = await fa.call("login", login_body(user["email"], app_id))

    assert 410 == response.status


async def test_a_user_who_must_change_password_gets_203(fa: Admin, app_id: str) -> None:
    user = await new_user(fa, app_id, passwordChangeRequired=True)

    response = await fa.call("login", login_body(user["email"], app_id))

    body = response.success_response
    assert 203 == response.status
    assert body["changePasswordId"]
    assert "token" not in body and "user" not in body


async def test_a_user_not_registered_for_the_application_gets_202(
    fa: Admin, app_id: str, rt: Runtime
) -> None:
    """
    202 still carries a token, with aud but without applicationId or roles.
    """
    user = await new_user(fa, None)

    response = await fa.call("login", login_body(user["email"], app_id))

    body = response.success_response
    claims = rt.keyring.verify(body["token"], rt.clock() // 1000)
    assert 202 == response.status
    assert app_id == claims["aud"]
    assert "applicationId" not in claims and "roles" not in claims
    assert "refreshToken" not in body


async def test_an_unverified_email_gets_212_when_the_tenant_requires_verification(
    fa: Admin, app_id: str
) -> None:
    """
    Users created while the tenant verifies email start unverified.
    """
    await fa.ok(
        "patch_tenant",
        DEFAULT_TENANT_ID,
        {"tenant": {"emailConfiguration": {"verifyEmail": True}}},
    )
    body = {
        "user": {"email": "unverified@example.com", "password": PASSWORD},
        "registration": {"applicationId": app_id},
    }
    await fa.ok("register", body)

    response = await fa.call("login", login_body("unverified@example.com", app_id))

    assert 212 == response.status
    assert response.success_response["token"]


async def test_login_records_the_registration_last_login_instant(
    fa: Admin, app_id: str, clock: Clock
) -> None:
    user = await new_user(fa, app_id)
    clock.advance(5)

    await fa.ok("login", login_body(user["email"], app_id))
    fetched = (await fa.ok("retrieve_user", user["id"]))["user"]

    assert clock.now == fetched["lastLoginInstant"]
    assert clock.now == fetched["registrations"][0]["lastLoginInstant"]


async def test_login_to_a_deactivated_application_is_invalid(
    fa: Admin, app_id: str
) -> None:
    """
    FusionAuth treats an inactive application as one that does not exist.
    """
    user = await new_user(fa, app_id)
    await fa.ok("deactivate_application", app_id)

    response = await fa.call("login", login_body(user["email"], app_id))

    errors = response.error_response["fieldErrors"]
    assert 400 == response.status
    assert "[invalid]applicationId" == errors["applicationId"][0]["code"]
