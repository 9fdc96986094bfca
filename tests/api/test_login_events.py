"""
What a login leaves in the event log: every attempt, each success, a rehash,
and never a secret.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from events.codec import Envelope
from events.store import entry_order
from loginsvc import keys
from loginsvc.config import CHEAPEST, HashProfile
from loginsvc.passwords import PasswordHasher
from loginsvc.runtime import Runtime
from tests.conftest import API_KEY

PASSWORD = "correct horse battery"


async def all_events(rt: Runtime) -> list[Envelope]:
    """
    Every event of every stream, in append order.
    """
    found: list[Envelope] = []
    for tag in keys.all_tags(rt.settings.partitions):
        found.extend([e async for e in rt.events.iterate(tag)])
    return sorted(found, key=lambda e: entry_order(e.entry_id))


async def register(client: TestClient, email: str) -> dict[str, Any]:
    body = {
        "user": {"email": email, "password": PASSWORD},
        "registration": {"applicationId": "3c219e58-ed0e-4b18-ad48-f4f92793ae32"},
        "skipVerification": True,
    }
    response = await client.post(
        "/api/user/registration", json=body, headers={"Authorization": API_KEY}
    )
    assert 200 == response.status, await response.text()
    return dict((await response.json())["user"])


async def login(client: TestClient, login_id: str, password: str) -> int:
    response = await client.post(
        "/api/login",
        json={"loginId": login_id, "password": password},
        headers={"Authorization": API_KEY},
    )
    return response.status


async def test_every_attempt_is_a_login_attempted_event_with_its_outcome(
    client: TestClient, rt: Runtime
) -> None:
    user = await register(client, "events@example.com")

    statuses = [
        await login(client, "events@example.com", PASSWORD),
        await login(client, "events@example.com", "wrong password"),
        await login(client, "nobody@example.com", PASSWORD),
    ]

    events = await all_events(rt)
    attempts = [e.event for e in events if e.type == "LoginAttempted"]
    logged_in = [e.event for e in events if e.type == "LoggedIn"]
    assert [200, 404, 404] == statuses
    assert ["succeeded", "wrongPassword"] == [
        a.outcome for a in attempts if a.user_id == user["id"]
    ]
    assert [("nobody@example.com", None)] == [
        (a.login_id, a.user_id) for a in attempts if a.outcome == "unknownUser"
    ]
    assert [("PASSWORD", user["id"])] == [
        (e.authentication_type, e.user_id) for e in logged_in
    ]


async def test_no_event_carries_the_password(client: TestClient, rt: Runtime) -> None:
    """
    Passwords reach the log only as argon2 hashes, whatever the outcome.
    """
    await register(client, "secret@example.com")
    await login(client, "secret@example.com", PASSWORD)
    await login(client, "secret@example.com", "a wrong one")

    raw = b""
    for tag in keys.all_tags(rt.settings.partitions):
        for _, fields in await rt.redis.xrange(keys.event_stream(tag)):
            raw += fields[b"e"]

    assert PASSWORD.encode() not in raw
    assert b"a wrong one" not in raw


async def test_a_hash_with_older_parameters_is_rehashed_at_the_next_login(
    client: TestClient, rt: Runtime
) -> None:
    user = await register(client, "rehash@example.com")
    stronger = HashProfile(CHEAPEST.memory_cost * 2, 2, 1)
    rt.hasher = PasswordHasher(stronger, threads=1, max_wait_ms=60_000)

    assert 200 == await login(client, "rehash@example.com", PASSWORD)

    _, doc = await rt.projections.load(rt.user_key(user["id"]))
    assert doc is not None
    assert not rt.hasher.needs_rehash(doc["password"])
    assert "PasswordRehashed" in [e.type for e in await all_events(rt)]
    assert 200 == await login(client, "rehash@example.com", PASSWORD)
