"""
``PUT /api/login`` (login ping) and ``POST /api/logout`` over real HTTP.
"""

from __future__ import annotations

import uuid

from events.login import LoggedIn
from loginsvc import keys
from tests.api.login_state import (
    call,
    fusionauth,
    make_application,
    make_user,
    password_login,
)
from tests.api.support import codes


async def test_ping_of_a_registered_user_answers_200_and_records_a_ping_login(
    client, rt
):
    """
    The ping is a ``LoggedIn`` of type PING with the given IP address.
    """
    app = await make_application(rt)
    user_id = await make_user(rt, "ping@example.com", app["id"])

    response = await call(fusionauth(client).login_ping, user_id, app["id"], "1.2.3.4")

    assert 200 == response.status
    events = await rt.events.read(rt.user_tag(user_id))
    pings = [e.event for e in events if isinstance(e.event, LoggedIn)]
    assert ["PING"] == [p.authentication_type for p in pings]
    assert "1.2.3.4" == pings[0].ip_address


async def test_ping_of_an_unregistered_user_answers_202(client, rt):
    """
    A user not registered for the application gets 202.
    """
    app = await make_application(rt)
    user_id = await make_user(rt, "unreg@example.com")

    response = await call(fusionauth(client).login_ping, user_id, app["id"])

    assert 202 == response.status


async def test_ping_of_an_unknown_user_answers_404(client, rt):
    """
    An unknown user id is a 404 with no body.
    """
    app = await make_application(rt)

    response = await call(fusionauth(client).login_ping, str(uuid.uuid4()), app["id"])

    assert 404 == response.status


async def test_ping_with_a_wrong_api_key_answers_401(client, rt):
    """
    The API key is checked before anything else.
    """
    app = await make_application(rt)
    user_id = await make_user(rt, "k@example.com", app["id"])

    response = await call(
        fusionauth(client, "not-a-key-at-all").login_ping, user_id, app["id"]
    )

    assert 401 == response.status


async def test_ping_body_without_user_id_names_the_missing_field(client, rt):
    """
    ``PUT /api/login`` with a body: ``[missing]userId`` and ``[invalid]applicationId``.
    """
    request = {"applicationId": str(uuid.uuid4()), "ipAddress": "1.2.3.4"}

    response = await call(fusionauth(client).login_ping_with_request, request)

    assert 400 == response.status
    assert {"[missing]userId", "[invalid]applicationId"} == codes(
        response.error_response
    )


async def test_ping_with_a_jwt_takes_the_user_and_application_from_the_token(
    client, rt
):
    """
    ``Authorization: Bearer`` names the user (``sub``) and the application.
    """
    app = await make_application(rt)
    user_id = await make_user(rt, "jwt@example.com", app["id"])
    token = (await password_login(client, "jwt@example.com", app["id"]))["token"]

    response = await call(
        fusionauth(client, f"Bearer {token}").login_ping_with_request, {}
    )

    assert 200 == response.status
    events = await rt.events.read(rt.user_tag(user_id))
    types = [e.event.authentication_type for e in events if e.type == "LoggedIn"]
    assert ["PASSWORD", "PING"] == types


async def test_ping_with_a_tampered_jwt_answers_401(client, rt):
    """
    A JWT whose signature does not verify is refused.
    """
    app = await make_application(rt)
    await make_user(rt, "bad@example.com", app["id"])
    token = (await password_login(client, "bad@example.com", app["id"]))["token"]

    response = await client.put(
        "/api/login", headers={"Authorization": f"Bearer {token[:-4]}AAAA"}
    )

    assert 401 == response.status


async def test_ping_accepts_caller_ip_address_as_an_alias(client, rt, admin):
    """
    ``callerIPAddress`` (the OpenAPI name) works like ``ipAddress``.
    """
    app = await make_application(rt)
    user_id = await make_user(rt, "alias@example.com", app["id"])

    response = await client.put(
        f"/api/login/{user_id}/{app['id']}?callerIPAddress=5.6.7.8", headers=admin
    )

    assert 200 == response.status
    events = await rt.events.read(rt.user_tag(user_id))
    assert "5.6.7.8" == events[-1].event.ip_address


async def test_logout_always_clears_both_cookies_and_answers_200(client):
    """
    Without any token, logout still answers 200 and expires the cookies.
    """
    response = await client.post("/api/logout")

    assert 200 == response.status
    assert "" == await response.text()
    cookies = response.headers.getall("Set-Cookie")
    for name in ("access_token", "refresh_token"):
        (line,) = [c for c in cookies if c.startswith(f"{name}=")]
        assert "Max-Age=0" in line
        assert "Path=/" in line


async def test_logout_by_cookie_revokes_the_cookie_token(client, rt):
    """
    The ``refresh_token`` cookie is used when no token is given explicitly.
    """
    app = await make_application(rt)
    user_id = await make_user(rt, "cookie@example.com", app["id"])
    login = await password_login(client, "cookie@example.com", app["id"])

    response = await client.post(
        "/api/logout", cookies={"refresh_token": login["refreshToken"]}
    )

    assert 200 == response.status
    members = await rt.redis.smembers(
        keys.user_refresh_tokens(rt.user_tag(user_id), user_id)
    )
    assert set() == members


async def test_global_logout_revokes_every_device_of_the_user(client, rt):
    """
    ``global=true`` revokes all the owner's tokens; the other devices fail.
    """
    app = await make_application(rt)
    await make_user(rt, "global@example.com", app["id"])
    phone = await password_login(client, "global@example.com", app["id"])
    laptop = await password_login(client, "global@example.com", app["id"])
    fa = fusionauth(client)

    response = await call(fa.logout, True, phone["refreshToken"])

    assert 200 == response.status
    refused = await call(
        fa.exchange_refresh_token_for_jwt, {"refreshToken": laptop["refreshToken"]}
    )
    assert 400 == refused.status
    assert {"[invalid]refreshToken"} == codes(refused.error_response)
    events = [e.type for e in await rt.events.read(rt.user_tag(phone["user"]["id"]))]
    assert ["LoggedOut", "RefreshTokensRevoked"] == events[-2:]
