"""
Redis round trips per request on the hot paths, counted on a real server.

A round trip is one write of commands to the socket followed by reading their
replies: the client's connection class counts each ``send_packed_command``,
so a pipeline or an EVALSHA (whatever it runs inside) counts once. The
server's MONITOR feed cross-checks the count: it shows every command a client
sent (script-internal ones are tagged ``lua`` and left out), so the commands
it sees are never fewer than the round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import ConnectionPool, Redis, UnixDomainSocketConnection

from loginsvc.app import make_app
from loginsvc.appkeys import RUNTIME
from loginsvc.config import Settings
from loginsvc.runtime import Runtime
from loginsvc.services.bootstrap import create_api_key
from tests.api.login_state import PASSWORD, make_application, make_user
from tests.conftest import API_KEY, Clock

# ruff: noqa: SIM300

pytestmark = pytest.mark.redis

_NAME = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)")


class CountingConnection(UnixDomainSocketConnection):
    """
    A connection that records the first command of each round trip it makes.
    """

    sent: list[str] = []

    async def send_packed_command(
        self, command: Any, check_health: bool = True
    ) -> None:
        first = command if isinstance(command, bytes) else b"".join(command)
        found = _NAME.match(first)
        self.sent.append(found[1].decode().upper() if found else "?")
        await super().send_packed_command(command, check_health)


@contextlib.contextmanager
def counting() -> Iterator[list[str]]:
    CountingConnection.sent = []
    yield CountingConnection.sent


@pytest.fixture
async def counted(
    aiohttp_client: Any, redis_server: str, settings: Settings, clock: Clock
) -> AsyncIterator[TestClient]:
    """
    The app on a real redis-server through a connection that counts round trips.
    """
    path = redis_server.removeprefix("unix://")
    pool = ConnectionPool(connection_class=CountingConnection, path=path)
    redis = Redis(connection_pool=pool)
    await redis.flushall()
    app = make_app(settings, redis=redis, clock=clock)
    client: TestClient = await aiohttp_client(app)
    await create_api_key(app, {"key": API_KEY, "description": "tests"})
    yield client
    await redis.aclose()


async def monitored(redis_server: str, action: Any) -> tuple[list[str], Any]:
    """
    Run ``action`` while MONITOR listens; the top-level commands it sent.
    """
    monitor = Redis.from_url(redis_server)
    seen: list[str] = []
    async with monitor.monitor() as feed:

        async def listen() -> None:
            while True:
                info = await feed.next_command()
                if info["client_type"] != "lua":
                    seen.append(info["command"].split(" ")[0].upper())

        listener = asyncio.ensure_future(listen())
        await asyncio.sleep(0.05)
        result = await action()
        await asyncio.sleep(0.1)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    await monitor.aclose()
    # The system-cache tail blocks in XREAD in the background, not per request.
    return [c for c in seen if c not in ("XREAD", "MONITOR")], result


async def prepared(client: TestClient) -> tuple[Runtime, dict[str, Any], str]:
    rt: Runtime = client.app[RUNTIME]
    app = await make_application(rt)
    user_id = await make_user(rt, "trips@example.com", app["id"])
    # A first call loads the append script into the server (SCRIPT LOAD).
    await login(client, app["id"])
    return rt, app, user_id


async def login(client: TestClient, app_id: str, **extra: Any) -> Any:
    body = {
        "loginId": "trips@example.com",
        "password": PASSWORD,
        "applicationId": app_id,
    }
    response = await client.post(
        "/api/login", json={**body, **extra}, headers={"Authorization": API_KEY}
    )
    text = await response.text()
    return response.status, (json.loads(text) if text else {})


def without_tail(sent: list[str]) -> list[str]:
    return [c for c in sent if c != "XREAD"]


async def test_password_login_takes_at_most_three_round_trips(counted, redis_server):
    """
    loginId index, user hash, one append: FusionAuth's password login in three.
    """
    _, app, _ = await prepared(counted)

    with counting() as sent:
        commands, (status, _) = await monitored(
            redis_server, lambda: login(counted, app["id"])
        )
    trips = without_tail(sent)

    assert 200 == status
    assert ["GET", "HMGET", "EVALSHA"] == trips
    assert len(commands) >= len(trips)
    assert 3 >= len(trips)


@pytest.mark.parametrize(
    "extra",
    [{"password": "wrong"}, {"loginId": "nobody@example.com"}, {"noJWT": True}],
    ids=["wrong-password", "unknown-user", "no-jwt"],
)
async def test_other_logins_take_at_most_three_round_trips(counted, extra):
    """
    A failed login records its attempt in the same budget.
    """
    _, app, _ = await prepared(counted)

    with counting() as sent:
        await login(counted, app["id"], **extra)

    assert 3 >= len(without_tail(sent))


async def test_refresh_takes_at_most_two_round_trips(counted):
    """
    Token lookup and owner in two pipelines; a Fixed policy appends nothing.
    """
    _, app, _ = await prepared(counted)
    _, body = await login(counted, app["id"])

    with counting() as sent:
        response = await counted.post(
            "/api/jwt/refresh", json={"refreshToken": body["refreshToken"]}
        )

    assert 200 == response.status
    assert 2 >= len(without_tail(sent))


async def test_ping_takes_at_most_two_round_trips(counted):
    """
    The user hash, then one append.
    """
    _, app, user_id = await prepared(counted)

    with counting() as sent:
        response = await counted.put(
            f"/api/login/{user_id}/{app['id']}", headers={"Authorization": API_KEY}
        )

    assert 200 == response.status
    assert ["HMGET", "EVALSHA"] == without_tail(sent)


@pytest.mark.parametrize("global_", [False, True], ids=["one", "global"])
async def test_logout_takes_three_round_trips(counted, global_):
    """
    The token, its owner (every token too, for global, in one script), the append.

    Two would need the owner before the token is read: the owner's id is only
    inside the token's msgpack record, and the append needs the owner's version
    to number its events (was 3 for one device and 6 for global).
    """
    _, app, _ = await prepared(counted)
    flag = str(global_).lower()
    for _ in range(2):
        _, body = await login(counted, app["id"])
        # The first logout loads the read script into the server.
        with counting() as sent:
            response = await counted.post(
                f"/api/logout?global={flag}",
                json={"refreshToken": body["refreshToken"]},
                headers={"Authorization": API_KEY},
            )
    expected = ["GET", "EVALSHA" if global_ else "HMGET", "EVALSHA"]

    assert 200 == response.status
    assert expected == without_tail(sent)
