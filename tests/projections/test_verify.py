"""
``verify``: the fold of the streams compared with the live keys, read-only.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from events.store import Op
from loginsvc import keys
from loginsvc.config import Settings
from loginsvc.runtime import Runtime
from projections.model import Keyspace
from projections.rebuild import rebuild
from projections.verify import verify
from tests.conftest import Clock
from tests.projections.helpers import (
    PASSWORD,
    application,
    busy_store,
    login,
    post,
    read_key,
    snapshot,
    ttl_drift,
    without_ttl,
)


async def test_verify_finds_no_difference_in_a_store_the_service_built(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
) -> None:
    """
    Projections written by the live path are exactly the fold of the events.
    """
    await busy_store(client, admin)

    report = await verify(redis, settings.partitions, clock)

    assert [] == report.differences
    assert 0 < report.events


async def test_verify_changes_nothing(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    rt: Runtime,
    clock: Clock,
) -> None:
    """
    Even with differences to report, verify writes no key.
    """
    ids = await busy_store(client, admin)
    await redis.delete(rt.user_key(ids["ada"]))
    before = await snapshot(redis)

    await verify(redis, settings.partitions, clock)
    after = await snapshot(redis)

    assert without_ttl(before) == without_ttl(after)
    assert ttl_drift(before, after) < 2000


async def test_verify_reports_the_one_planted_difference_without_its_value(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    rt: Runtime,
    clock: Clock,
) -> None:
    """
    A tampered user document is named once, by digest, never by content.
    """
    ids = await busy_store(client, admin)
    key = rt.user_key(ids["ada"])
    await redis.hset(key, "d", b"$argon2id$tampered")

    report = await verify(redis, settings.partitions, clock)

    assert [key] == [d.key for d in report.differences]
    assert "argon2" not in str(report.differences[0])


async def test_verify_reports_missing_and_stray_index_entries(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
) -> None:
    """
    A lost loginId entry and one no user holds are both differences.
    """
    await busy_store(client, admin)
    await redis.delete(keys.login_id_index("ada@example.com"))
    await redis.set(keys.login_id_index("ghost"), "nobody")

    report = await verify(redis, settings.partitions, clock)

    expected = {keys.login_id_index("ada@example.com"), keys.login_id_index("ghost")}
    assert expected == {d.key for d in report.differences}


async def test_the_model_runs_projection_writes_as_redis_does(redis: Redis) -> None:
    """
    The in-memory model and Redis agree on every command writers may use.
    """
    ops = [
        Op("HSET", "h", ("a", 1, "b", b"x")),
        Op("HINCRBY", "h", ("a", 5)),
        Op("HDEL", "h", ("b",)),
        Op("LPUSH", "l", ("1", "2", "3", "4")),
        Op("LTRIM", "l", (1, -2)),
        Op("ZADD", "z", (3, "c", 1, "a", 2, "b", 1, "aa")),
        Op("ZREMRANGEBYRANK", "z", (-1, -1)),
        Op("ZREM", "z", ("a",)),
        Op("SADD", "s", ("x", "y")),
        Op("SREM", "s", ("x",)),
        Op("SET", "t", (b"v", "PX", 60_000)),
        Op("SET", "t", (b"w", "KEEPTTL")),
        Op("SET", "gone", (b"v",)),
        Op("DEL", "gone"),
        Op("SET", "e", (b"v",)),
        Op("PEXPIRE", "e", (30_000,)),
    ]
    space = Keyspace()
    for op in ops:
        space.run(op, 0)
        await redis.execute_command(op.command, op.key, *op.args)

    live = {k: await read_key(redis, k) for k in ("h", "l", "z", "s", "t", "e")}
    modelled = {
        "h": ("hash", {b"a": b"6"}),
        "l": ("list", [b"3", b"2"]),
        "z": ("zset", [(b"aa", 1.0), (b"b", 2.0)]),
        "s": ("set", [b"y"]),
        "t": ("string", b"w"),
        "e": ("string", b"v"),
    }
    assert modelled == {k: (kind, value) for k, (kind, value, _t) in live.items()}
    assert {"t": 60_000, "e": 30_000} == space.expires
    assert "gone" not in space.values
    assert modelled["z"][1] == sorted(
        space.values["z"][1].items(), key=lambda item: (item[1], item[0])
    )


COMMANDS = (
    "create",
    "register",
    "login_ok",
    "login_bad",
    "deactivate",
    "reactivate",
    "delete",
    "unknown_login",
)


async def run_command(
    client: TestClient,
    admin: dict[str, str],
    app_id: str,
    users: list[str],
    command: str,
    who: int,
    prefix: str,
) -> None:
    name = f"{prefix}-{who}"
    user_id = users[who % len(users)] if users else str(uuid.uuid4())
    if command == "create":
        body: dict[str, Any] = {
            "user": {"email": f"{name}@example.com", "password": PASSWORD}
        }
        response = await client.post("/api/user", json=body, headers=admin)
        if response.status == 200:
            users.append((await response.json())["user"]["id"])
    elif command == "register":
        body = {"registration": {"applicationId": app_id}}
        await client.post(f"/api/user/registration/{user_id}", json=body, headers=admin)
    elif command in ("login_ok", "login_bad", "unknown_login"):
        login_id = name if command == "unknown_login" else f"{name}@example.com"
        await login(client, admin, login_id, app_id, command == "login_ok")
    elif command == "deactivate":
        await client.delete(f"/api/user/{user_id}", headers=admin)
    elif command == "reactivate":
        await client.put(f"/api/user/{user_id}?reactivate=true", json={}, headers=admin)
    else:
        await client.delete(f"/api/user/{user_id}?hardDelete=true", headers=admin)


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    commands=st.lists(
        st.tuples(st.sampled_from(COMMANDS), st.integers(0, 3)), max_size=12
    )
)
async def test_the_projection_is_always_the_fold_of_the_events(
    client: TestClient,
    admin: dict[str, str],
    redis: Redis,
    settings: Settings,
    clock: Clock,
    spilling: dict[str, int],
    commands: list[tuple[str, int]],
) -> None:
    """
    After any command sequence, verify agrees and a rebuild changes no key.
    """
    prefix = uuid.uuid4().hex[:8]
    app_id = await application(client, admin)
    users: list[str] = []
    for command, who in commands:
        await run_command(client, admin, app_id, users, command, who, prefix)
    before = await snapshot(redis)

    report = await verify(redis, settings.partitions, clock)
    await rebuild(redis, settings.partitions, clock, **spilling)

    assert [] == report.differences
    assert without_ttl(before) == without_ttl(await snapshot(redis))


async def test_post_helper_is_used(client: TestClient, admin: dict[str, str]) -> None:
    """
    The shared POST helper reports the path of a failing call.
    """
    app_id = await application(client, admin)

    created = await post(
        client, "/api/application", {"application": {"name": "second"}}, admin
    )

    assert app_id != created["application"]["id"]
