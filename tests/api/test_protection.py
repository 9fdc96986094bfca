"""
Failed-login lockout (reference §8) and the opt-in rate limits, over real HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import uuid
from dataclasses import replace
from typing import Any

import fakeredis
import pytest
from aiohttp.test_utils import TestClient

from events.system import TenantUpdated, UserActionDefined
from events.user import UserActionApplied, UserUpdated
from loginsvc.app import make_app
from loginsvc.appkeys import RUNTIME
from loginsvc.config import OWASP_MINIMUM, ConfigError, RateLimit, Settings
from loginsvc.defaults import DEFAULT_TENANT_ID
from loginsvc.runtime import Runtime
from loginsvc.services.aggregates import commit_system, commit_user
from loginsvc.services.bootstrap import create_api_key
from loginsvc.services.lookup import load_user
from loginsvc.services.system import tenant
from tests.api.login_state import PASSWORD, make_user
from tests.conftest import API_KEY, Clock

HEADERS = {"Authorization": API_KEY}


async def lock_after(rt: Runtime, attempts: int, reset_seconds: int = 60) -> str:
    """
    Make the tenant lock a user for 3 minutes after ``attempts`` failures.
    """
    action_id = str(uuid.uuid4())
    definition = {"id": action_id, "name": "Locked", "preventLogin": True}
    await commit_system(rt, "useraction", action_id, [UserActionDefined(definition)])
    doc = dict(tenant(rt))
    doc["failedAuthenticationConfiguration"] = {
        **doc["failedAuthenticationConfiguration"],
        "tooManyAttempts": attempts,
        "resetCountInSeconds": reset_seconds,
        "actionDuration": 3,
        "actionDurationUnit": "MINUTES",
        "userActionId": action_id,
    }
    await commit_system(rt, "tenant", DEFAULT_TENANT_ID, [TenantUpdated(doc)])
    return action_id


async def attempt(client: TestClient, login_id: str, password: str) -> int:
    body = {"loginId": login_id, "password": password}
    response = await client.post("/api/login", json=body, headers=HEADERS)
    await response.read()
    return response.status


async def lock_actions(rt: Runtime, user_id: str) -> list[dict[str, Any]]:
    _, doc = await load_user(rt, user_id)
    assert doc is not None
    return list(doc.get("_actions", []))


async def test_the_attempt_that_reaches_the_limit_answers_409_with_the_action(
    client: TestClient, rt: Runtime
) -> None:
    """
    Wrong passwords are 404 until the third, which applies the lock itself.
    """
    action_id = await lock_after(rt, 3)
    user_id = await make_user(rt, "ann@example.com")

    statuses = [await attempt(client, "ann@example.com", "wrong") for _ in range(2)]
    body = {"loginId": "ann@example.com", "password": "wrong"}
    third = await client.post("/api/login", json=body, headers=HEADERS)

    assert [404, 404] == statuses
    assert 409 == third.status
    [shown] = (await third.json())["actions"]
    [applied] = await lock_actions(rt, user_id)
    assert applied["id"] == shown["actionId"]
    assert action_id == applied["userActionId"]
    assert "Failed Login Attempts Exceeded." == applied["comment"]


async def test_a_locked_user_gets_409_even_with_the_right_password(
    client: TestClient, rt: Runtime, clock: Clock
) -> None:
    """
    The lock is checked before the password, until its three minutes pass.
    """
    await lock_after(rt, 2)
    await make_user(rt, "bob@example.com")
    for _ in range(2):
        await attempt(client, "bob@example.com", "wrong")

    during = await attempt(client, "bob@example.com", PASSWORD)
    clock.advance(3 * 60 + 1)
    after = await attempt(client, "bob@example.com", PASSWORD)

    assert 409 == during
    assert 200 == after


async def test_wrong_passwords_outside_the_reset_window_start_a_new_count(
    client: TestClient, rt: Runtime, clock: Clock
) -> None:
    """
    resetCountInSeconds runs from the most recent failure.
    """
    await lock_after(rt, 3, reset_seconds=30)
    await make_user(rt, "cid@example.com")

    statuses = []
    for pause in (0, 20, 31, 29, 29):
        clock.advance(pause)
        statuses.append(await attempt(client, "cid@example.com", "wrong"))

    assert [404, 404, 404, 404, 409] == statuses


async def test_unknown_login_ids_are_never_counted(
    client: TestClient, rt: Runtime
) -> None:
    """
    An unknown loginId answers 404 however often it is tried.
    """
    await lock_after(rt, 2)

    statuses = {await attempt(client, "nobody@example.com", "x") for _ in range(5)}

    assert {404} == statuses


async def test_concurrent_wrong_passwords_never_pass_the_limit(
    client: TestClient, rt: Runtime
) -> None:
    """
    Ten wrong passwords at once: two 404s, one lock, every other attempt 409.
    """
    await lock_after(rt, 3)
    user_id = await make_user(rt, "dan@example.com")

    statuses = await asyncio.gather(
        *(attempt(client, "dan@example.com", f"wrong {n}") for n in range(10))
    )

    _, doc = await load_user(rt, user_id)
    assert doc is not None
    assert [404, 404] + [409] * 8 == sorted(statuses)
    assert 1 == len(doc["_actions"])
    assert 3 == doc["_failed"]["count"]


# ---------------------------------------------------------------- rate limits


@pytest.fixture
async def limited(
    aiohttp_client: Any, redis: Any, settings: Any, clock: Clock
) -> TestClient:
    """
    A second app on the same store, with 3 logins a minute per IP and loginId.
    """
    limits = RateLimit(3, 60)
    changed = replace(settings, rate_limit_ip=limits, rate_limit_login_id=limits)
    app = make_app(changed, redis=redis, clock=clock)
    test_client: TestClient = await aiohttp_client(app)
    await create_api_key(app, {"key": API_KEY, "description": "tests"})
    return test_client


async def test_rate_limits_are_off_by_default(client: TestClient) -> None:
    """
    Without the settings, twenty attempts in a row are all answered normally.
    """
    statuses = {await attempt(client, "eve@example.com", "x") for _ in range(20)}

    assert {404} == statuses


async def test_the_fourth_login_of_a_login_id_in_a_minute_gets_429(
    limited: TestClient,
) -> None:
    """
    429 with Retry-After and an Errors body; the IP limit counts separately.
    """
    statuses = [await attempt(limited, "fay@example.com", "x") for _ in range(3)]
    body = {"loginId": "FAY@example.com", "password": "x"}
    fourth = await limited.post(
        "/api/login", json=body, headers={**HEADERS, "X-Forwarded-For": "10.0.0.9"}
    )

    assert [404, 404, 404] == statuses
    assert 429 == fourth.status
    assert 1 <= int(fourth.headers["Retry-After"]) <= 60
    errors = (await fourth.json())["generalErrors"]
    assert ["[TooManyRequests]"] == [e["code"] for e in errors]


async def test_the_fourth_login_from_one_ip_in_a_minute_gets_429(
    limited: TestClient,
) -> None:
    """
    With an API key the body's ipAddress is the client; another IP is untouched.
    """

    async def from_ip(ip: str, login_id: str) -> int:
        body = {"loginId": login_id, "password": "x", "ipAddress": ip}
        response = await limited.post("/api/login", json=body, headers=HEADERS)
        return response.status

    statuses = [await from_ip("192.0.2.1", f"u{n}@example.com") for n in range(4)]
    other = await from_ip("192.0.2.2", "u9@example.com")

    assert [404, 404, 404, 429] == statuses
    assert 404 == other


async def test_a_rate_limit_window_ends_after_its_seconds(
    aiohttp_client: Any, redis: Any, settings: Any
) -> None:
    """
    One login a second: the second is refused, the third a second later is not.
    """
    app = make_app(replace(settings, rate_limit_login_id=RateLimit(1, 1)), redis=redis)
    limited_client = await aiohttp_client(app)
    await create_api_key(app, {"key": API_KEY, "description": "tests"})

    first = await attempt(limited_client, "gus@example.com", "x")
    second = await attempt(limited_client, "gus@example.com", "x")
    await asyncio.sleep(1.1)
    third = await attempt(limited_client, "gus@example.com", "x")

    assert [404, 429, 404] == [first, second, third]


async def test_two_factor_login_is_rate_limited_per_two_factor_id(
    limited: TestClient,
) -> None:
    """
    Guessing codes for one twoFactorId is limited like guessing passwords.
    """
    body = {"twoFactorId": "not-a-real-id", "code": "123456"}

    statuses = []
    for _ in range(4):
        response = await limited.post("/api/two-factor/login", json=body)
        statuses.append(response.status)

    assert [404, 404, 404, 429] == statuses


def test_rate_limits_are_read_as_count_slash_seconds() -> None:
    """
    ``LOGINSVC_RATE_LIMIT_IP=10/60`` is ten requests a minute.
    """
    env = {"LOGINSVC_RATE_LIMIT_IP": "10/60", "LOGINSVC_RATE_LIMIT_LOGIN_ID": "5/1"}

    settings = Settings.from_env(env)

    assert RateLimit(10, 60) == settings.rate_limit_ip
    assert RateLimit(5, 1) == settings.rate_limit_login_id


@pytest.mark.parametrize("raw", ["10", "ten/60", "0/60", "10/0", "10/-1"])
def test_a_malformed_rate_limit_is_a_startup_error(raw: str) -> None:
    """
    The error names the variable.
    """
    with pytest.raises(ConfigError, match="LOGINSVC_RATE_LIMIT_LOGIN_ID"):
        Settings.from_env({"LOGINSVC_RATE_LIMIT_LOGIN_ID": raw})


# ---------------------------------------------------------------- timing


async def timing_user(rt: Runtime, email: str, **overrides: Any) -> None:
    """
    A user with a real OWASP-profile hash, changed by ``overrides``.
    """
    user_id = await make_user(rt, email)
    version, doc = await load_user(rt, user_id)
    events: list[Any] = []
    if overrides.pop("locked", False):
        action = {"id": str(uuid.uuid4()), "userActionId": str(uuid.uuid4())}
        action |= {"name": "Lock", "preventLogin": True, "applicationIds": []}
        events.append(UserActionApplied({**action, "expiry": rt.clock() + 3_600_000}))
    if overrides:
        events.append(UserUpdated({**(doc or {}), **overrides}))
    await commit_user(rt, user_id, version, doc, events)


async def test_unknown_deactivated_locked_and_expired_cost_a_wrong_password(
    aiohttp_client: Any, settings: Settings, clock: Clock, caplog: Any
) -> None:
    """
    Server-side medians of 15 interleaved logins each are within 20% of each
    other; on a noisy machine the best of three rounds counts.
    """
    owasp = replace(settings, hash_profile=OWASP_MINIMUM, hash_threads=1)
    app = make_app(owasp, redis=fakeredis.FakeAsyncRedis(), clock=clock)
    timed = await aiohttp_client(app)
    await create_api_key(app, {"key": API_KEY, "description": "tests"})
    rt = app[RUNTIME]
    await timing_user(rt, "known@example.com")
    await timing_user(rt, "off@example.com", active=False)
    await timing_user(rt, "locked@example.com", locked=True)
    await timing_user(rt, "old@example.com", expiry=clock.now - 1000)
    caplog.set_level(logging.INFO, logger="loginsvc.access")

    rounds = [await timing_round(timed, caplog)]
    while spread(rounds[-1]) > 1.2 and len(rounds) < 3:
        rounds.append(await timing_round(timed, caplog))

    print("medians_ms", [{k: round(v, 2) for k, v in r.items()} for r in rounds])
    assert 1.2 >= min(spread(medians) for medians in rounds), rounds


def spread(medians: dict[str, float]) -> float:
    return max(medians.values()) / min(medians.values())


async def timing_round(client: TestClient, caplog: Any) -> dict[str, float]:
    """
    The median server-side duration in ms of each kind of refused login.
    """
    kinds = {
        "wrong password": ("known@example.com", 404),
        "unknown": ("nobody@example.com", 404),
        "deactivated": ("off@example.com", 423),
        "locked": ("locked@example.com", 409),
        "expired": ("old@example.com", 410),
    }
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(15):
        for kind, (login_id, expected) in kinds.items():
            caplog.clear()
            assert expected == await attempt(client, login_id, "wrong password")
            [record] = [r for r in caplog.records if r.name == "loginsvc.access"]
            samples[kind].append(float(record.args[-1]))
    return {kind: statistics.median(values) for kind, values in samples.items()}
