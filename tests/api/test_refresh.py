"""
``POST /api/jwt/refresh`` and refresh-token management over real HTTP.
"""

from __future__ import annotations

from email.utils import formatdate

import pytest

from events.system import TenantUpdated, UserActionDefined
from events.user import UserRegistered
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.errors import ValidationFailed
from loginsvc.services import refresh as refresh_service
from loginsvc.services.aggregates import commit_system, commit_user
from loginsvc.services.lookup import load_user
from loginsvc.services.system import tenant
from tests.api.login_state import (
    call,
    fusionauth,
    make_application,
    make_user,
    password_login,
    set_tenant_jwt,
)
from tests.api.support import codes

INVALID = "The refresh token was not found or has expired."


async def logged_in(client, rt, email: str, **app_settings) -> tuple[dict, dict]:
    app = await make_application(rt, **app_settings)
    await make_user(rt, email, app["id"])
    return app, await password_login(client, email, app["id"])


async def test_refresh_then_logout_then_the_refreshed_token_is_rejected(client, rt):
    """
    The client refreshes, logs out, and the token no longer refreshes.
    """
    _, login = await logged_in(client, rt, "cycle@example.com")
    fa = fusionauth(client)
    request = {"refreshToken": login["refreshToken"]}

    refreshed = await call(fa.exchange_refresh_token_for_jwt, request)
    logout = await call(fa.logout, False, login["refreshToken"])
    again = await call(fa.exchange_refresh_token_for_jwt, request)

    assert 200 == refreshed.status
    assert login["refreshToken"] == refreshed.success_response["refreshToken"]
    assert login["refreshTokenId"] == refreshed.success_response["refreshTokenId"]
    assert 200 == logout.status
    assert 400 == again.status
    errors = again.error_response["fieldErrors"]["refreshToken"]
    assert [{"code": "[invalid]refreshToken", "message": INVALID}] == errors


async def test_refreshed_access_token_keeps_auth_time_and_names_the_token(
    client, rt, clock
):
    """
    ``authenticationType`` REFRESH_TOKEN, the login's ``auth_time``, ``sid``.
    """
    _, login = await logged_in(client, rt, "claims@example.com")
    first = rt.keyring.verify(login["token"], clock() // 1000)
    clock.advance(120)

    response = await client.post(
        "/api/jwt/refresh", json={"refreshToken": login["refreshToken"]}
    )

    body = await response.json()
    claims = rt.keyring.verify(body["token"], clock() // 1000)
    assert "REFRESH_TOKEN" == claims["authenticationType"]
    assert first["auth_time"] == claims["auth_time"]
    assert login["refreshTokenId"] == claims["sid"]
    assert {"access_token", "refresh_token"} <= set(response.cookies)


async def test_the_refreshed_cookie_expires_by_the_service_clock(client, rt, clock):
    """
    The refresh answer's ``refresh_token`` cookie carries ``Expires`` too.
    """
    _, login = await logged_in(client, rt, "expires@example.com")
    clock.advance(86400)

    response = await client.post(
        "/api/jwt/refresh", json={"refreshToken": login["refreshToken"]}
    )

    cookie = response.cookies["refresh_token"]
    max_age = int(cookie["max-age"])
    assert formatdate(clock() // 1000 + max_age, usegmt=True) == cookie["expires"]


async def test_refresh_cookie_wins_over_the_body(client, rt):
    """
    With both, the ``refresh_token`` cookie is the one used (reference §5.5).
    """
    _, login = await logged_in(client, rt, "both@example.com")

    response = await client.post(
        "/api/jwt/refresh",
        json={"refreshToken": "00not-a-token"},
        cookies={"refresh_token": login["refreshToken"]},
    )

    assert 200 == response.status


async def test_refresh_without_a_token_names_the_missing_field(client):
    """
    No body and no cookie: ``[missing]refreshToken``.
    """
    response = await client.post("/api/jwt/refresh")

    assert 400 == response.status
    assert {"[missing]refreshToken"} == codes(await response.json())


async def test_refresh_is_disabled_unless_the_application_allows_it(client, rt):
    """
    ``loginConfiguration.allowTokenRefresh`` false gives ``[disabled]refreshToken``.
    """
    config = {"allowTokenRefresh": False, "generateRefreshTokens": True}
    _, login = await logged_in(
        client, rt, "nope@example.com", loginConfiguration=config
    )

    response = await client.post(
        "/api/jwt/refresh", json={"refreshToken": login["refreshToken"]}
    )

    assert {"[disabled]refreshToken"} == codes(await response.json())


async def test_fixed_tokens_expire_at_their_time_to_live(client, rt, clock):
    """
    A token past ``refreshTokenTimeToLiveInMinutes`` is ``[invalid]``.
    """
    await set_tenant_jwt(rt, refreshTokenTimeToLiveInMinutes=10)
    _, login = await logged_in(client, rt, "ttl@example.com")
    clock.advance(601)

    response = await client.post(
        "/api/jwt/refresh", json={"refreshToken": login["refreshToken"]}
    )

    assert {"[invalid]refreshToken"} == codes(await response.json())


async def test_sliding_window_extends_the_token_with_each_use(client, rt, clock):
    """
    Each use of a SlidingWindow token restarts its time to live.
    """
    await set_tenant_jwt(
        rt,
        refreshTokenTimeToLiveInMinutes=10,
        refreshTokenExpirationPolicy="SlidingWindow",
    )
    _, login = await logged_in(client, rt, "slide@example.com")
    body = {"refreshToken": login["refreshToken"]}
    statuses = []

    for _ in range(3):
        clock.advance(500)
        statuses.append((await client.post("/api/jwt/refresh", json=body)).status)

    assert [200, 200, 200] == statuses


async def test_sliding_window_stops_at_the_maximum_lifetime(client, rt, clock):
    """
    SlidingWindowWithMaximumLifetime caps the sliding at the maximum.
    """
    await set_tenant_jwt(
        rt,
        refreshTokenTimeToLiveInMinutes=10,
        refreshTokenExpirationPolicy="SlidingWindowWithMaximumLifetime",
        refreshTokenSlidingWindowConfiguration={"maximumTimeToLiveInMinutes": 15},
    )
    _, login = await logged_in(client, rt, "cap@example.com")
    body = {"refreshToken": login["refreshToken"]}
    statuses = []

    for _ in range(3):
        clock.advance(400)
        statuses.append((await client.post("/api/jwt/refresh", json=body)).status)

    assert [200, 200, 400] == statuses


async def test_one_time_tokens_rotate_and_a_replay_revokes_the_family(client, rt):
    """
    OneTimeUse hands out a new value each time; replaying an old one kills all.
    """
    await set_tenant_jwt(rt, refreshTokenUsagePolicy="OneTimeUse")
    _, login = await logged_in(client, rt, "rotate@example.com")
    fa = fusionauth(client)

    first = await call(
        fa.exchange_refresh_token_for_jwt, {"refreshToken": login["refreshToken"]}
    )
    rotated = first.success_response["refreshToken"]
    replay = await call(
        fa.exchange_refresh_token_for_jwt, {"refreshToken": login["refreshToken"]}
    )
    after = await call(fa.exchange_refresh_token_for_jwt, {"refreshToken": rotated})

    assert 200 == first.status
    assert login["refreshToken"] != rotated
    assert login["refreshTokenId"] == first.success_response["refreshTokenId"]
    assert {"[invalid]refreshToken"} == codes(replay.error_response)
    assert {"[invalid]refreshToken"} == codes(after.error_response)


async def test_one_time_replay_inside_the_grace_period_still_works(client, rt, clock):
    """
    Within ``gracePeriodInSeconds`` the old value refreshes without rotating.
    """
    await set_tenant_jwt(
        rt,
        refreshTokenUsagePolicy="OneTimeUse",
        refreshTokenOneTimeUseConfiguration={"gracePeriodInSeconds": 30},
    )
    _, login = await logged_in(client, rt, "grace@example.com")
    body = {"refreshToken": login["refreshToken"]}
    rotated = (await (await client.post("/api/jwt/refresh", json=body)).json())[
        "refreshToken"
    ]
    clock.advance(10)
    client.session.cookie_jar.clear()

    replay = await client.post("/api/jwt/refresh", json=body)
    client.session.cookie_jar.clear()
    current = await client.post("/api/jwt/refresh", json={"refreshToken": rotated})

    assert 200 == replay.status
    assert login["refreshToken"] == (await replay.json())["refreshToken"]
    assert 200 == current.status


async def test_tokens_of_a_user_are_listed_without_their_values(client, rt):
    """
    ``GET /api/jwt/refresh?userId=`` lists ids, never token values or digests.
    """
    app, login = await logged_in(client, rt, "list@example.com")
    user_id = login["user"]["id"]

    response = await call(fusionauth(client).retrieve_refresh_tokens, user_id)

    (token,) = response.success_response["refreshTokens"]
    assert login["refreshTokenId"] == token["id"]
    assert app["id"] == token["applicationId"]
    assert "digest" not in token and "token" not in token


async def test_a_token_is_retrieved_by_id_and_revoked_by_id(client, rt):
    """
    ``GET`` then ``DELETE /api/jwt/refresh/{tokenId}``; then it is a 404.
    """
    _, login = await logged_in(client, rt, "byid@example.com")
    fa = fusionauth(client)
    token_id = login["refreshTokenId"]

    found = await call(fa.retrieve_refresh_token_by_id, token_id)
    deleted = await call(fa.revoke_refresh_token_by_id, token_id)
    gone = await call(fa.retrieve_refresh_token_by_id, token_id)

    assert token_id == found.success_response["refreshToken"]["id"]
    assert 200 == deleted.status
    assert 404 == gone.status


async def test_revoking_by_token_user_or_application_ends_refreshes(client, rt):
    """
    Each DELETE form revokes what it names.
    """
    app, one = await logged_in(client, rt, "r1@example.com")
    await make_user(rt, "r2@example.com", app["id"])
    two = await password_login(client, "r2@example.com", app["id"])
    three = await password_login(client, "r2@example.com", app["id"])
    fa = fusionauth(client)

    await call(fa.revoke_refresh_token_by_token, one["refreshToken"])
    await call(fa.revoke_refresh_tokens_by_application_id, app["id"])

    for login in (one, two, three):
        response = await call(
            fa.exchange_refresh_token_for_jwt, {"refreshToken": login["refreshToken"]}
        )
        assert {"[invalid]refreshToken"} == codes(response.error_response)


async def test_revoking_by_user_and_application_keeps_other_applications(client, rt):
    """
    ``?userId=&applicationId=`` leaves the user's other applications alone.
    """
    app, first = await logged_in(client, rt, "two-apps@example.com")
    other = await make_application(rt)
    user_id = first["user"]["id"]
    version, doc = await load_user(rt, user_id)
    registration = {"id": "r", "applicationId": other["id"], "roles": []}
    await commit_user(rt, user_id, version, doc, [UserRegistered(registration)])
    second = await password_login(client, "two-apps@example.com", other["id"])
    fa = fusionauth(client)

    await call(fa.revoke_refresh_tokens_by_user_id_for_application, user_id, app["id"])

    listed = await call(fa.retrieve_refresh_tokens, user_id)
    ids = [t["id"] for t in listed.success_response["refreshTokens"]]
    assert [second["refreshTokenId"]] == ids


async def test_a_lockout_revokes_the_users_refresh_tokens(client, rt, admin):
    """
    A failed-login lockout is a prevent-login action: onLoginPrevented revokes.
    """
    action = {"id": "9c0e6d1a-3e1f-4a8e-9a51-2b3f0f7e7a10", "name": "Lock"}
    action["preventLogin"] = True
    await commit_system(rt, "useraction", action["id"], [UserActionDefined(action)])
    doc = dict(tenant(rt))
    doc["failedAuthenticationConfiguration"] = {
        **doc["failedAuthenticationConfiguration"],
        "userActionId": action["id"],
        "tooManyAttempts": 2,
    }
    await commit_system(rt, "tenant", DEFAULT_TENANT_ID, [TenantUpdated(doc)])
    app, login = await logged_in(client, rt, "locked@example.com")
    wrong = {"loginId": "locked@example.com", "password": "wrong password!"}

    for _ in range(2):
        await client.post("/api/login", json=wrong, headers=admin)

    response = await client.post(
        "/api/jwt/refresh", json={"refreshToken": login["refreshToken"]}
    )
    assert {"[invalid]refreshToken"} == codes(await response.json())


async def test_a_refresh_that_loses_a_rotation_race_cannot_rotate_again(
    client, rt, monkeypatch
):
    """
    A second refresh that read the one-time value before a racing rotation
    does not rotate it again: it is treated as the reuse it now is.
    """
    await set_tenant_jwt(rt, refreshTokenUsagePolicy="OneTimeUse")
    _, login = await logged_in(client, rt, "race@example.com")
    value = login["refreshToken"]
    original = refresh_service.owner
    competitors: list[str] = []
    raced = []

    async def racing_owner(rt_, record, **kwargs):
        if not raced:
            raced.append(True)
            won = await refresh_service.exchange(rt_, refresh_service.Exchange(value))
            competitors.append(won.body["refreshToken"])
        return await original(rt_, record, **kwargs)

    monkeypatch.setattr(refresh_service, "owner", racing_owner)
    with pytest.raises(ValidationFailed) as lost:
        await refresh_service.exchange(rt, refresh_service.Exchange(value))

    assert ["[invalid]refreshToken"] == [e.code for e in lost.value.field_errors]
    assert 1 == len(competitors)
