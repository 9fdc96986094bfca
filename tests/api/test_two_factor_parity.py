"""
Two-factor behaviours that close parity gaps: trust echo, lockout clearing
pending ids, the start code, and finishing a ``Required`` setup during login.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from events import system
from loginsvc import keys
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system
from tests.api.test_two_factor import (
    PASSWORD,
    Api,
    challenge,
    code_at,
    email_of,
    enable,
    new_application,
    new_user,
    two_factor_id,
)
from tests.conftest import API_KEY, Clock


@pytest.fixture
async def fa(client: TestClient) -> Api:
    return Api(client)


async def trusted_user(fa: Api, rt: Runtime, clock: Clock) -> tuple[str, str]:
    """
    A user with an authenticator and a trust id from a ``trustComputer`` login.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    body = {
        "twoFactorId": await two_factor_id(fa, rt, user_id),
        "code": code_at(secret, clock),
        "trustComputer": True,
    }
    trust_id = (await fa.ok("two_factor_login", body))["twoFactorTrustId"]
    return user_id, trust_id


async def login_with_cookie(
    client: TestClient, rt: Runtime, user_id: str, trust_id: str, **extra: Any
) -> Any:
    return await client.post(
        "/api/login",
        json={"loginId": await email_of(rt, user_id), "password": PASSWORD, **extra},
        headers={"Authorization": API_KEY, "Cookie": f"fusionauth.trust={trust_id}"},
    )


def trust_cookie(cookies: list[str]) -> str:
    return next(c for c in cookies if c.startswith("fusionauth.trust="))


async def test_a_login_spared_by_a_body_trust_echoes_it_and_sets_the_cookie(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The 200 carries ``twoFactorTrustId`` and re-sets ``fusionauth.trust``.
    """
    user_id, trust_id = await trusted_user(fa, rt, clock)
    clock.advance(3600)

    response = await challenge(fa, rt, user_id, twoFactorTrustId=trust_id)

    assert 200 == response.status
    assert trust_id == response.success_response["twoFactorTrustId"]
    assert trust_id == response.response.cookies["fusionauth.trust"]
    header = trust_cookie(response.response.raw.headers.getlist("Set-Cookie"))
    assert f"Max-Age={30 * 86400 - 3600}" in header


async def test_a_login_spared_by_the_trust_cookie_echoes_it_on_a_202(
    fa: Api, rt: Runtime, clock: Clock, client: TestClient
) -> None:
    """
    A 202 (not registered for the application) echoes the cookie's trust too.
    """
    user_id, trust_id = await trusted_user(fa, rt, clock)
    app_id = await new_application(rt)

    response = await login_with_cookie(
        client, rt, user_id, trust_id, applicationId=app_id
    )

    assert 202 == response.status
    assert trust_id == (await response.json())["twoFactorTrustId"]
    assert trust_id == response.cookies["fusionauth.trust"].value


async def test_a_login_without_a_trust_has_no_trust_id_or_cookie(
    fa: Api, rt: Runtime
) -> None:
    """
    A user with no methods logs in with 200 and nothing about trust.
    """
    user_id = await new_user(rt)

    response = await challenge(fa, rt, user_id)

    assert 200 == response.status
    assert "twoFactorTrustId" not in response.success_response
    assert "fusionauth.trust" not in response.response.cookies


async def test_a_challenge_clears_a_trust_cookie_that_is_not_valid(
    fa: Api, rt: Runtime, clock: Clock, client: TestClient
) -> None:
    """
    A 242 answers an invalid ``fusionauth.trust`` cookie with ``Max-Age=0``.
    """
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)

    response = await login_with_cookie(client, rt, user_id, "00" + "x" * 40)

    assert 242 == response.status
    assert "Max-Age=0" in trust_cookie(response.headers.getall("Set-Cookie"))


async def test_a_challenge_without_a_trust_cookie_sets_no_cookie(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    Nothing to clear when the request carried no trust cookie.
    """
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)

    response = await challenge(fa, rt, user_id, twoFactorTrustId="00" + "x" * 40)

    assert 242 == response.status
    assert "Set-Cookie" not in response.response.headers


async def lock_after(rt: Runtime, attempts: int) -> None:
    """
    Make the tenant lock a user for three minutes after ``attempts`` failures.
    """
    action_id = str(uuid.uuid4())
    definition = {"id": action_id, "name": "Locked", "preventLogin": True}
    await commit_system(
        rt, "useraction", action_id, [system.UserActionDefined(definition)]
    )
    tenant = rt.system.get("tenant", DEFAULT_TENANT_ID)
    assert tenant is not None
    failed = {
        **tenant["failedAuthenticationConfiguration"],
        "tooManyAttempts": attempts,
        "userActionId": action_id,
        "actionDuration": 3,
        "actionDurationUnit": "MINUTES",
    }
    changed = {**tenant, "failedAuthenticationConfiguration": failed}
    await commit_system(
        rt, "tenant", DEFAULT_TENANT_ID, [system.TenantUpdated(changed)]
    )


async def pending_keys(rt: Runtime, user_id: str) -> list[bytes]:
    pattern = keys.two_factor_pending(rt.user_tag(user_id), "*")
    return [k async for k in rt.redis.scan_iter(match=pattern)]


async def test_a_lockout_on_a_wrong_code_revokes_every_pending_two_factor_id(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    After the 409, another pending id is 404 once the lock has expired.
    """
    await lock_after(rt, 2)
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    other = await two_factor_id(fa, rt, user_id)
    wrong = {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": "000000"}

    statuses = [(await fa.call("two_factor_login", wrong)).status for _ in range(2)]

    assert [421, 409] == statuses
    assert [] == await pending_keys(rt, user_id)
    clock.advance(181)
    late = {"twoFactorId": other, "code": code_at(secret, clock)}
    assert 404 == (await fa.call("two_factor_login", late)).status


async def test_a_wrong_code_below_the_limit_keeps_other_pending_ids(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    A 421 revokes nothing: another pending id still completes the login.
    """
    await lock_after(rt, 3)
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    other = await two_factor_id(fa, rt, user_id)
    wrong = {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": "000000"}

    response = await fa.call("two_factor_login", wrong)

    assert 421 == response.status
    assert 2 == len(await pending_keys(rt, user_id))
    right = {"twoFactorId": other, "code": code_at(secret, clock)}
    assert 200 == (await fa.call("two_factor_login", right)).status


async def test_start_returns_a_six_digit_code_the_login_accepts_once(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The start ``code`` completes that id's login; the spent id is then 404.
    """
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)
    started = await fa.ok("start_two_factor_login", {"userId": user_id})
    body = {"twoFactorId": started["twoFactorId"], "code": started["code"]}

    first = await fa.call("two_factor_login", body)
    again = await fa.call("two_factor_login", body)

    assert 6 == len(started["code"])
    assert started["code"].isdigit()
    assert 200 == first.status
    assert user_id == first.success_response["user"]["id"]
    assert 404 == again.status


async def test_a_start_code_is_refused_for_another_two_factor_id(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The code belongs to its own id: on a login's id it is a wrong code.
    """
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)
    started = await fa.ok("start_two_factor_login", {"userId": user_id})
    other = await two_factor_id(fa, rt, user_id)

    response = await fa.call(
        "two_factor_login", {"twoFactorId": other, "code": started["code"]}
    )

    assert 421 == response.status


async def test_the_start_code_is_stored_only_as_a_digest(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    Neither the pending key nor the event stream holds the code itself.
    """
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)

    started = await fa.ok("start_two_factor_login", {"userId": user_id})

    [key] = await pending_keys(rt, user_id)
    stored = await rt.redis.get(key)
    stream = await rt.redis.xrange(keys.event_stream(rt.user_tag(user_id)))
    raw = [stored, *(v for _id, fields in stream for v in fields.values())]
    assert [] == [r for r in raw if started["code"].encode() in r]


async def required_challenge(
    fa: Api, rt: Runtime, user_id: str, app_id: str
) -> dict[str, Any]:
    response = await challenge(fa, rt, user_id, applicationId=app_id)
    assert 242 == response.status
    return dict(response.success_response)


async def test_a_required_setup_during_login_enables_and_logs_in(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    Enable with the 242's ``twoFactorId`` answers ``recoveryCodes`` and a
    ``code`` that completes that login once (reference §2.3).
    """
    app_id = await new_application(
        rt, multiFactorConfiguration={"loginPolicy": "Required"}
    )
    user_id = await new_user(rt, app_id)
    pending = await required_challenge(fa, rt, user_id, app_id)
    secret = (await fa.ok("generate_two_factor_secret"))["secret"]
    enable_body = {
        "method": "authenticator",
        "secret": secret,
        "code": code_at(secret, clock),
        "twoFactorId": pending["twoFactorId"],
    }

    enabled = await fa.ok("enable_two_factor", user_id, enable_body)
    login_body = {"twoFactorId": pending["twoFactorId"], "code": enabled["code"]}
    first = await fa.call("two_factor_login", login_body)
    again = await fa.call("two_factor_login", login_body)

    assert [] == pending["methods"]
    assert ["authenticator"] == pending["configurableMethods"]
    assert 10 == len(enabled["recoveryCodes"])
    assert 6 == len(enabled["code"])
    assert 200 == first.status
    assert first.success_response["token"]
    methods = first.success_response["user"]["twoFactor"]["methods"]
    assert ["authenticator"] == [m["method"] for m in methods]
    assert 404 == again.status


async def test_a_second_method_with_a_two_factor_id_answers_only_a_code(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    No recovery codes for a later method; the ``code`` still finishes the login.
    """
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)
    pending = await two_factor_id(fa, rt, user_id)
    secret = (await fa.ok("generate_two_factor_secret"))["secret"]
    body = {
        "method": "authenticator",
        "secret": secret,
        "code": code_at(secret, clock),
        "twoFactorId": pending,
    }

    enabled = await fa.ok("enable_two_factor", user_id, body)

    assert {"code"} == set(enabled)
    login = {"twoFactorId": pending, "code": enabled["code"]}
    assert 200 == (await fa.call("two_factor_login", login)).status


async def test_enabling_with_another_users_two_factor_id_is_invalid(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    A twoFactorId that is unknown or not the user's is ``[invalid]twoFactorId``.
    """
    app_id = await new_application(
        rt, multiFactorConfiguration={"loginPolicy": "Required"}
    )
    owner = await new_user(rt, app_id)
    pending = await required_challenge(fa, rt, owner, app_id)
    other = await new_user(rt, app_id)
    secret = (await fa.ok("generate_two_factor_secret"))["secret"]
    bodies = [
        {"twoFactorId": pending["twoFactorId"]},
        {"twoFactorId": "00" + "x" * 40},
    ]

    responses = [
        await fa.call(
            "enable_two_factor",
            other,
            {
                "method": "authenticator",
                "secret": secret,
                "code": code_at(secret, clock),
                **body,
            },
        )
        for body in bodies
    ]

    assert [400, 400] == [r.status for r in responses]
    codes = [
        r.error_response["fieldErrors"]["twoFactorId"][0]["code"] for r in responses
    ]
    assert ["[invalid]twoFactorId"] * 2 == codes
    user = (await fa.ok("retrieve_user", other))["user"]
    assert [] == (user.get("twoFactor") or {}).get("methods", [])


async def test_a_successful_two_factor_login_spends_every_pending_id(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    Once one id completes the login, the user's other pending id is 404.
    """
    user_id = await new_user(rt)
    secret, codes = await enable(fa, user_id, clock)
    other = await two_factor_id(fa, rt, user_id)
    used = {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": codes[0]}

    first = await fa.call("two_factor_login", used)
    late = await fa.call(
        "two_factor_login", {"twoFactorId": other, "code": code_at(secret, clock)}
    )

    assert 200 == first.status
    assert 404 == late.status
    assert [] == await pending_keys(rt, user_id)
