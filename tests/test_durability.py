"""
Durability of the embedded Redis (AOF, ``appendfsync always``): a login that
was answered 2xx survives a SIGKILL of redis-server, exactly once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from events.login import LoggedIn
from events.store import EventStore
from loginsvc import keys
from loginsvc.app import make_app
from loginsvc.appkeys import RUNTIME
from loginsvc.config import Settings
from loginsvc.redis_server import EmbeddedRedis
from loginsvc.services.bootstrap import create_api_key
from projections.store import ProjectionStore
from tests.api.login_state import PASSWORD, make_user
from tests.conftest import API_KEY

pytestmark = [pytest.mark.redis, pytest.mark.slow]

USERS = 60
KILL_AFTER = 15


async def login(client: TestClient, email: str) -> int:
    body = {"loginId": email, "password": PASSWORD}
    try:
        response = await client.post(
            "/api/login", json=body, headers={"Authorization": API_KEY}
        )
        await response.read()
    except OSError:
        return 599
    return response.status


async def logins_while_killed(
    client: TestClient, emails: list[str], server: EmbeddedRedis
) -> list[int]:
    """
    Log each user in once, four at a time; SIGKILL Redis after a few 200s.
    """
    statuses: list[int] = [0] * len(emails)
    pid = server.pid
    assert pid is not None

    async def one(index: int) -> None:
        statuses[index] = await login(client, emails[index])
        if statuses.count(200) == KILL_AFTER:
            os.kill(pid, signal.SIGKILL)

    for start in range(0, len(emails), 4):
        await asyncio.gather(*(one(i) for i in range(start, start + 4)))
    return statuses


async def test_every_acknowledged_login_survives_a_sigkill_exactly_once(
    aiohttp_client: Any, settings: Settings
) -> None:
    """
    Each 2xx login has one LoggedIn event and its lastLoginInstant after restart.
    """
    folder = Path(tempfile.mkdtemp(prefix="lsd-"))
    server = EmbeddedRedis(folder / "data")
    assert "always" == server.appendfsync
    await server.__aenter__()
    try:
        app = make_app(replace(settings, redis_url=server.url, redis_timeout_s=1.0))
        client: TestClient = await aiohttp_client(app)
        await create_api_key(app, {"key": API_KEY, "description": "tests"})
        rt = app[RUNTIME]
        emails = [f"user{n}@example.com" for n in range(USERS)]
        ids = {email: await make_user(rt, email) for email in emails}

        statuses = await logins_while_killed(client, emails, server)
        await asyncio.to_thread(server.stop)
        await server.__aenter__()
        found = await logged_in(server.url, settings.partitions, list(ids.values()))
        after_restart = await login(client, emails[0])
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(folder, ignore_errors=True)

    acknowledged = {ids[e] for e, s in zip(emails, statuses, strict=True) if s < 300}
    events, instants = found
    assert KILL_AFTER <= len(acknowledged) < USERS
    assert set() == acknowledged - set(events)
    assert set() == acknowledged - set(instants)
    assert [] == [user for user, count in events.items() if count > 1]
    assert 200 == after_restart


async def logged_in(
    url: str, partitions: int, user_ids: list[str]
) -> tuple[Counter[str], set[str]]:
    """
    LoggedIn events per user in the streams, and users with a lastLoginInstant.
    """
    redis = Redis.from_url(url)
    try:
        store, projections = EventStore(redis), ProjectionStore(redis)
        events: Counter[str] = Counter()
        for tag in keys.all_tags(partitions):
            async for envelope in store.iterate(tag):
                if isinstance(envelope.event, LoggedIn):
                    events[envelope.event.user_id] += 1
        instants = set()
        for user_id in user_ids:
            tag = keys.tag(keys.partition_of(user_id, partitions))
            _, doc = await projections.load(keys.user(tag, user_id))
            if doc is not None and doc.get("lastLoginInstant"):
                instants.add(user_id)
    finally:
        await redis.aclose()
    return events, instants
