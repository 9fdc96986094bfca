"""
Many requests for one user at once: they queue on the user's version, none
fails with a 500, and every acknowledged one is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from events.login import LoggedIn
from loginsvc.defaults import FUSIONAUTH_APPLICATION_ID
from loginsvc.runtime import Runtime
from tests.api.support import PASSWORD


async def registered_user(client: TestClient, admin: dict[str, str]) -> str:
    body = {
        "user": {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
        "registration": {"applicationId": FUSIONAUTH_APPLICATION_ID},
    }
    response = await client.post("/api/user/registration", json=body, headers=admin)
    assert 200 == response.status, await response.text()
    return str((await response.json())["user"]["id"])


async def logged_in_events(rt: Runtime, user_id: str) -> int:
    found = [e async for e in rt.events.iterate(rt.user_tag(user_id))]
    return sum(
        1 for e in found if isinstance(e.event, LoggedIn) and e.event.user_id == user_id
    )


async def test_forty_concurrent_pings_for_one_user_all_succeed(
    client: TestClient, admin: dict[str, str], rt: Runtime
) -> None:
    """
    Each ping commits at the user's version; conflicts are retried with jitter.
    """
    user_id = await registered_user(client, admin)
    path = f"/api/login/{user_id}/{FUSIONAUTH_APPLICATION_ID}"

    responses = await asyncio.gather(
        *(client.put(path, headers=admin) for _ in range(40))
    )

    assert [200] * 40 == [r.status for r in responses]
    assert 40 == await logged_in_events(rt, user_id)


async def test_a_conflict_that_outlasts_every_retry_is_a_503_not_a_500(
    client: TestClient, admin: dict[str, str], rt: Runtime, monkeypatch: Any
) -> None:
    user_id = await registered_user(client, admin)

    async def always_conflicting(*args: Any, **kwargs: Any) -> list[str]:
        from loginsvc.errors import ConcurrencyConflict

        raise ConcurrencyConflict("CONFLICT version 99")

    async def no_wait(retry: int) -> None:
        return None

    monkeypatch.setattr(rt.events, "append", always_conflicting)
    monkeypatch.setattr("loginsvc.services.aggregates.backoff", no_wait)
    response = await client.put(
        f"/api/login/{user_id}/{FUSIONAUTH_APPLICATION_ID}", headers=admin
    )

    body = await response.json()
    assert 503 == response.status
    assert "[ConcurrentModification]" == body["generalErrors"][0]["code"]
    assert response.headers["Retry-After"]


async def test_the_access_log_names_the_route_not_the_path(
    client: TestClient, admin: dict[str, str], caplog: Any
) -> None:
    """
    A trust id in the path would let a log reader skip MFA: it is never logged.
    """
    secret = "0aTrustIdThatMustNotBeLogged0123456789"
    caplog.set_level(logging.INFO, logger="loginsvc.access")

    await client.get(f"/api/two-factor/status/{secret}", headers=admin)

    lines = [r.getMessage() for r in caplog.records if r.name == "loginsvc.access"]
    assert lines
    assert not any(secret in line for line in lines)
    assert any("/api/two-factor/status/{" in line for line in lines)


async def test_unknown_paths_and_methods_get_an_empty_body(
    client: TestClient,
) -> None:
    missing = await client.get("/api/no-such-thing")
    wrong = await client.delete("/api/login")

    assert (404, b"") == (missing.status, await missing.read())
    assert (405, b"") == (wrong.status, await wrong.read())
