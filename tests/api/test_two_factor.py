"""
The Two Factor APIs and the two-factor login, driven by the official
``fusionauth-client`` package over real HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from fusionauth.fusionauth_client import FusionAuthClient

from events import system
from events import user as user_events
from loginsvc import keys, totp
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system, commit_user
from loginsvc.services.lookup import load_user
from tests.conftest import API_KEY, Clock

PASSWORD = "correct horse battery"


class Api:
    """
    The official client, called off the event loop (it is synchronous).
    """

    def __init__(self, client: TestClient) -> None:
        self.fa = FusionAuthClient(API_KEY, str(client.make_url("")).rstrip("/"))

    async def call(self, method: str, *args: Any) -> Any:
        return await asyncio.to_thread(getattr(self.fa, method), *args)

    async def ok(self, method: str, *args: Any) -> dict[str, Any]:
        response = await self.call(method, *args)
        assert response.was_successful(), (method, response.status)
        return response.success_response or {}


@pytest.fixture
async def fa(client: TestClient) -> Api:
    return Api(client)


async def new_application(rt: Runtime, **extra: Any) -> str:
    app_id = str(uuid.uuid4())
    app = {
        "id": app_id,
        "name": f"app {app_id[:8]}",
        "tenantId": DEFAULT_TENANT_ID,
        "active": True,
        "roles": [],
        "loginConfiguration": {"requireAuthentication": True},
        "jwtConfiguration": {"enabled": False},
        **extra,
    }
    await commit_system(rt, "application", app_id, [system.ApplicationCreated(app)])
    return app_id


async def new_user(rt: Runtime, app_id: str | None = None, **extra: Any) -> str:
    user_id = str(uuid.uuid4())
    email = f"{user_id[:10]}@example.com"
    doc: dict[str, Any] = {
        "id": user_id,
        "email": email,
        "active": True,
        "verified": True,
        "tenantId": DEFAULT_TENANT_ID,
        "password": await rt.hasher.hash(PASSWORD),
        "insertInstant": rt.clock(),
        "twoFactor": {},
        **extra,
    }
    if app_id is not None:
        doc["registrations"] = [{"applicationId": app_id, "roles": []}]
    await rt.redis.set(keys.login_id_index(email), user_id)
    await commit_user(rt, user_id, 0, None, [user_events.UserCreated(doc)])
    return user_id


async def email_of(rt: Runtime, user_id: str) -> str:
    _version, doc = await load_user(rt, user_id)
    assert doc is not None
    return str(doc["email"])


def code_at(secret: str, clock: Clock) -> str:
    return totp.current_code(secret, clock.now / 1000)


async def enable(fa: Api, user_id: str, clock: Clock) -> tuple[str, Any]:
    """
    Enable an authenticator; its secret and the recovery codes (first one only).
    """
    secret = (await fa.ok("generate_two_factor_secret"))["secret"]
    body = {"method": "authenticator", "secret": secret, "code": code_at(secret, clock)}
    codes = (await fa.ok("enable_two_factor", user_id, body)).get("recoveryCodes")
    clock.advance(30)
    return secret, codes


async def challenge(fa: Api, rt: Runtime, user_id: str, **extra: Any) -> Any:
    body = {"loginId": await email_of(rt, user_id), "password": PASSWORD, **extra}
    return await fa.call("login", body)


async def two_factor_id(fa: Api, rt: Runtime, user_id: str, **extra: Any) -> str:
    response = await challenge(fa, rt, user_id, **extra)
    assert 242 == response.status
    return str(response.success_response["twoFactorId"])


async def test_generated_secret_gives_one_key_in_base64_and_base32(fa: Api) -> None:
    """
    ``secret`` and ``secretBase32Encoded`` decode to the same 20 bytes.
    """
    body = await fa.ok("generate_two_factor_secret")

    key = base64.b64decode(body["secret"])
    padded = body["secretBase32Encoded"] + "=" * (-len(body["secretBase32Encoded"]) % 8)
    assert key == base64.b32decode(padded)
    assert 20 == len(key)


async def test_enabling_the_first_method_returns_ten_recovery_codes(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The first authenticator answers 200 with ten codes; the user shows no secret.
    """
    user_id = await new_user(rt)

    _secret, codes = await enable(fa, user_id, clock)

    assert 10 == len(set(codes))
    user = (await fa.ok("retrieve_user", user_id))["user"]
    method = user["twoFactor"]["methods"][0]
    assert "authenticator" == method["method"]
    assert "secret" not in method
    assert {"algorithm": "HmacSHA1", "codeLength": 6, "timeStep": 30} == method[
        "authenticator"
    ]


async def test_enabling_with_base32_secret_and_a_second_method_has_no_codes(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    ``secretBase32Encoded`` is accepted; a second method brings no recovery codes.
    """
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)
    secret = await fa.ok("generate_two_factor_secret")
    body = {
        "method": "authenticator",
        "secretBase32Encoded": secret["secretBase32Encoded"],
        "code": code_at(secret["secret"], clock),
    }

    response = await fa.call("enable_two_factor", user_id, body)

    assert 200 == response.status
    assert None is response.success_response
    _version, doc = await load_user(rt, user_id)
    assert doc is not None
    assert 2 == len(doc["twoFactor"]["methods"])


async def test_enabling_with_a_wrong_code_answers_421(fa: Api, rt: Runtime) -> None:
    """
    A code that does not match the secret enables nothing.
    """
    user_id = await new_user(rt)
    secret = (await fa.ok("generate_two_factor_secret"))["secret"]
    body = {"method": "authenticator", "secret": secret, "code": "000000"}

    response = await fa.call("enable_two_factor", user_id, body)

    assert 421 == response.status
    _version, doc = await load_user(rt, user_id)
    assert doc is not None
    assert {} == doc["twoFactor"]


@pytest.mark.parametrize("method", ["email", "sms"])
async def test_enabling_email_or_sms_is_an_invalid_method(
    fa: Api, rt: Runtime, method: str
) -> None:
    """
    Methods without a delivery channel are refused loudly, not ignored.
    """
    user_id = await new_user(rt)
    body = {"method": method, "code": "123456", "email": "a@example.com"}

    response = await fa.call("enable_two_factor", user_id, body)

    assert 400 == response.status
    errors = response.error_response["fieldErrors"]["method"]
    assert ["[invalid]method"] == [e["code"] for e in errors]


async def test_the_official_client_completes_a_two_factor_login(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    242, a wrong code 421, the right code 200 with a token, then the id is gone.
    """
    app_id = await new_application(rt)
    user_id = await new_user(rt, app_id)
    secret, _codes = await enable(fa, user_id, clock)

    first = await challenge(fa, rt, user_id, applicationId=app_id)
    pending = first.success_response
    wrong = await fa.call(
        "two_factor_login", {"twoFactorId": pending["twoFactorId"], "code": "000000"}
    )
    right = await fa.call(
        "two_factor_login",
        {"twoFactorId": pending["twoFactorId"], "code": code_at(secret, clock)},
    )
    again = await fa.call(
        "two_factor_login",
        {"twoFactorId": pending["twoFactorId"], "code": code_at(secret, clock)},
    )

    assert 242 == first.status
    assert {"twoFactorId", "methods"} == set(pending)
    assert "authenticator" == pending["methods"][0]["method"]
    assert "Set-Cookie" not in first.response.headers
    assert 421 == wrong.status
    assert 200 == right.status
    assert user_id == right.success_response["user"]["id"]
    assert right.success_response["token"]
    assert 404 == again.status


async def test_a_replayed_totp_code_answers_421(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    A code accepted once is refused on a new twoFactorId within its window.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    code = code_at(secret, clock)
    first = await two_factor_id(fa, rt, user_id)
    await fa.ok("two_factor_login", {"twoFactorId": first, "code": code})
    second = await two_factor_id(fa, rt, user_id)

    replay = await fa.call("two_factor_login", {"twoFactorId": second, "code": code})

    assert 421 == replay.status
    clock.advance(30)
    fresh = {"twoFactorId": second, "code": code_at(secret, clock)}
    assert 200 == (await fa.call("two_factor_login", fresh)).status


async def test_a_recovery_code_logs_in_exactly_once(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    Recovery codes work in any case and without the dash, but only once.
    """
    user_id = await new_user(rt)
    _secret, codes = await enable(fa, user_id, clock)
    code = codes[3].lower().replace("-", "")

    first = await fa.call(
        "two_factor_login",
        {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": code},
    )
    second = await fa.call(
        "two_factor_login",
        {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": codes[3]},
    )

    assert 200 == first.status
    assert 421 == second.status


async def test_a_trusted_computer_skips_the_challenge(
    fa: Api, rt: Runtime, clock: Clock, client: TestClient
) -> None:
    """
    ``trustComputer`` returns a trust id and cookie; later logins skip the 242.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    body = {
        "twoFactorId": await two_factor_id(fa, rt, user_id),
        "code": code_at(secret, clock),
        "trustComputer": True,
    }

    trusted = await fa.call("two_factor_login", body)
    trust_id = trusted.success_response["twoFactorTrustId"]
    by_body = await challenge(fa, rt, user_id, twoFactorTrustId=trust_id)
    by_cookie = await client.post(
        "/api/login",
        json={"loginId": await email_of(rt, user_id), "password": PASSWORD},
        headers={"Authorization": API_KEY, "Cookie": f"fusionauth.trust={trust_id}"},
    )
    other = await new_user(rt)
    await enable(fa, other, clock)
    stolen = await challenge(fa, rt, other, twoFactorTrustId=trust_id)

    assert 200 == trusted.status
    assert trust_id == trusted.response.cookies["fusionauth.trust"]
    assert 200 == by_body.status
    assert 200 == by_cookie.status
    assert 242 == stolen.status
    clock.advance(30 * 86400 + 1)
    assert 242 == (await challenge(fa, rt, user_id, twoFactorTrustId=trust_id)).status


async def test_the_trust_cookie_expires_by_the_service_clock(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    ``fusionauth.trust`` is persistent: ``Max-Age`` and ``Expires`` both.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    body = {
        "twoFactorId": await two_factor_id(fa, rt, user_id),
        "code": code_at(secret, clock),
        "trustComputer": True,
    }

    trusted = await fa.call("two_factor_login", body)

    cookies = trusted.response.raw.headers.getlist("Set-Cookie")
    trust = next(c for c in cookies if c.startswith("fusionauth.trust="))
    max_age = int(trust.split("Max-Age=")[1].split(";")[0])
    expires = formatdate(clock() // 1000 + max_age, usegmt=True)
    assert f"expires={expires}" in trust


async def test_the_token_keeps_the_password_authentication_type(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    A token from the two-factor login says ``PASSWORD``, the original factor.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    body = {
        "twoFactorId": await two_factor_id(fa, rt, user_id),
        "code": code_at(secret, clock),
    }

    token = (await fa.ok("two_factor_login", body))["token"]

    payload = token.split(".")[1]
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b'"authenticationType":"PASSWORD"' in claims


async def test_two_factor_login_reports_blank_fields_at_once(
    fa: Api, rt: Runtime
) -> None:
    """
    ``[blank]twoFactorId``, ``[blank]code`` and ``[invalid]applicationId`` together.
    """
    body = {"twoFactorId": " ", "code": "", "applicationId": str(uuid.uuid4())}

    response = await fa.call("two_factor_login", body)

    assert 400 == response.status
    codes = {
        e["code"]
        for errors in response.error_response["fieldErrors"].values()
        for e in errors
    }
    assert {"[blank]twoFactorId", "[blank]code", "[invalid]applicationId"} == codes


async def test_an_unknown_or_expired_two_factor_id_answers_404(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    A made-up id is 404, and so is a real one after its 300 s lifetime.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    pending = await two_factor_id(fa, rt, user_id)
    clock.advance(301)

    unknown = await fa.call(
        "two_factor_login", {"twoFactorId": "00" + "x" * 43, "code": "123456"}
    )
    expired = await fa.call(
        "two_factor_login", {"twoFactorId": pending, "code": code_at(secret, clock)}
    )

    assert 404 == unknown.status
    assert 404 == expired.status


async def test_a_deactivated_user_cannot_finish_a_two_factor_login(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The user is checked again: deactivated in between means 423.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    pending = await two_factor_id(fa, rt, user_id)
    version, doc = await load_user(rt, user_id)
    await commit_user(rt, user_id, version, doc, [user_events.UserDeactivated()])

    response = await fa.call(
        "two_factor_login", {"twoFactorId": pending, "code": code_at(secret, clock)}
    )

    assert 423 == response.status


async def test_wrong_codes_count_as_failed_logins_and_lock_with_409(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The attempt that reaches ``tooManyAttempts`` answers 409 with the action.
    """
    action_id = str(uuid.uuid4())
    definition = {"id": action_id, "name": "Locked", "preventLogin": True}
    await commit_system(
        rt, "useraction", action_id, [system.UserActionDefined(definition)]
    )
    tenant = rt.system.get("tenant", DEFAULT_TENANT_ID)
    assert tenant is not None
    failed = {**tenant["failedAuthenticationConfiguration"], "tooManyAttempts": 3}
    failed["userActionId"] = action_id
    changed = {**tenant, "failedAuthenticationConfiguration": failed}
    await commit_system(
        rt, "tenant", DEFAULT_TENANT_ID, [system.TenantUpdated(changed)]
    )
    user_id = await new_user(rt)
    await enable(fa, user_id, clock)
    pending = {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": "000000"}

    statuses = [(await fa.call("two_factor_login", pending)).status for _ in range(3)]

    assert [421, 421, 409] == statuses


async def test_disabling_with_the_method_code_removes_that_method(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    ``methodId`` and ``code`` as query parameters; a wrong code is 421.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    method_id = (await fa.ok("retrieve_user", user_id))["user"]["twoFactor"]["methods"][
        0
    ]["id"]

    wrong = await fa.call("disable_two_factor", user_id, method_id, "000000")
    right = await fa.call(
        "disable_two_factor", user_id, method_id, code_at(secret, clock)
    )

    assert 421 == wrong.status
    assert 200 == right.status
    assert {} == (await fa.ok("retrieve_user", user_id))["user"]["twoFactor"]
    assert 200 == (await challenge(fa, rt, user_id)).status


async def test_disabling_with_a_recovery_code_removes_every_method(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    A recovery code in a JSON body removes all methods and the codes with them.
    """
    user_id = await new_user(rt)
    _secret, codes = await enable(fa, user_id, clock)
    await enable(fa, user_id, clock)

    response = await fa.call(
        "disable_two_factor_with_request", user_id, {"code": codes[0]}
    )

    assert 200 == response.status
    _version, doc = await load_user(rt, user_id)
    assert doc is not None
    assert [] == doc["twoFactor"]["methods"]
    assert "_recoveryCodes" not in doc


async def test_new_recovery_codes_replace_the_old_ones(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    After regenerating, an old code is refused and a new one works.
    """
    user_id = await new_user(rt)
    _secret, old = await enable(fa, user_id, clock)

    new = (await fa.ok("generate_two_factor_recovery_codes", user_id))["recoveryCodes"]

    assert 10 == len(new)
    stale = {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": old[0]}
    assert 421 == (await fa.call("two_factor_login", stale)).status
    stale["code"] = new[0]
    assert 200 == (await fa.call("two_factor_login", stale)).status


async def test_two_factor_comes_before_change_password(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The password login answers 242 first; the right code then answers 203.
    """
    user_id = await new_user(rt, passwordChangeRequired=True)
    secret, _codes = await enable(fa, user_id, clock)
    pending = await two_factor_id(fa, rt, user_id)

    response = await fa.call(
        "two_factor_login", {"twoFactorId": pending, "code": code_at(secret, clock)}
    )

    assert 203 == response.status
    assert "Administrative" == response.success_response["changePasswordReason"]
    assert "token" not in response.success_response


@pytest.mark.parametrize(
    ("policy", "with_method", "expected"),
    [
        ("Disabled", True, 200),
        ("Enabled", False, 200),
        ("Required", False, 242),
    ],
)
async def test_the_application_login_policy_decides_the_challenge(
    fa: Api,
    rt: Runtime,
    clock: Clock,
    policy: str,
    with_method: bool,
    expected: int,
) -> None:
    """
    ``multiFactorConfiguration.loginPolicy`` of the application is honoured.
    """
    app_id = await new_application(rt, multiFactorConfiguration={"loginPolicy": policy})
    user_id = await new_user(rt, app_id)
    if with_method:
        await enable(fa, user_id, clock)

    response = await challenge(fa, rt, user_id, applicationId=app_id)

    assert expected == response.status


async def test_start_hands_out_an_id_that_completes_a_login(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    ``/api/two-factor/start`` by loginId gives an id the right code redeems.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)

    started = await fa.ok(
        "start_two_factor_login", {"loginId": await email_of(rt, user_id)}
    )

    assert "authenticator" == started["methods"][0]["method"]
    body = {"twoFactorId": started["twoFactorId"], "code": code_at(secret, clock)}
    assert 200 == (await fa.call("two_factor_login", body)).status
    missing = await fa.call("start_two_factor_login", {"userId": str(uuid.uuid4())})
    assert 404 == missing.status


async def test_status_is_242_without_a_trust_and_200_with_one(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    ``/api/two-factor/status`` answers as the next login would.
    """
    user_id = await new_user(rt)
    secret, _codes = await enable(fa, user_id, clock)
    body = {
        "twoFactorId": await two_factor_id(fa, rt, user_id),
        "code": code_at(secret, clock),
        "trustComputer": True,
    }
    trust_id = (await fa.ok("two_factor_login", body))["twoFactorTrustId"]

    without = await fa.call("retrieve_two_factor_status", user_id, None, None)
    with_trust = await fa.call("retrieve_two_factor_status", user_id, None, trust_id)

    assert 242 == without.status
    assert 200 == with_trust.status
    assert trust_id == with_trust.success_response["twoFactorTrustId"]


async def test_two_racing_logins_with_one_id_succeed_only_once(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    The id is spent in the commit that logs in, so a racing second use is 404.
    """
    user_id = await new_user(rt)
    secret, codes = await enable(fa, user_id, clock)
    pending = await two_factor_id(fa, rt, user_id)
    bodies = [
        {"twoFactorId": pending, "code": code_at(secret, clock)},
        {"twoFactorId": pending, "code": codes[0]},
    ]

    responses = await asyncio.gather(
        *(fa.call("two_factor_login", body) for body in bodies)
    )

    assert [200, 404] == sorted(r.status for r in responses)


async def test_the_code_that_enabled_a_method_also_completes_the_next_login(
    fa: Api, rt: Runtime, clock: Clock
) -> None:
    """
    Enabling is not a login: its code may finish the login that follows at once.
    """
    user_id = await new_user(rt)
    secret = (await fa.ok("generate_two_factor_secret"))["secret"]
    code = code_at(secret, clock)
    body = {"method": "authenticator", "secret": secret, "code": code}
    await fa.ok("enable_two_factor", user_id, body)
    two_factor = await two_factor_id(fa, rt, user_id)

    first = await fa.call("two_factor_login", {"twoFactorId": two_factor, "code": code})
    again = await fa.call(
        "two_factor_login",
        {"twoFactorId": await two_factor_id(fa, rt, user_id), "code": code},
    )

    assert 200 == first.status
    assert 421 == again.status
