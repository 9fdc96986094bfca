"""
Redis faults: a stopped (SIGSTOP) or dead redis-server gives a quick 503 with
a JSON body, ``/api/status`` says why, and the service recovers on its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.exceptions import ResponseError

from events.codec import Envelope
from events.login import LoginAttempted
from events.store import Op
from loginsvc import keys
from loginsvc.app import make_app
from loginsvc.appkeys import RUNTIME
from loginsvc.config import Settings
from loginsvc.redis_server import EmbeddedRedis
from loginsvc.services.bootstrap import create_api_key
from tests.api.login_state import PASSWORD, make_user
from tests.conftest import API_KEY

pytestmark = pytest.mark.redis

TIMEOUT_S = 0.5
#: The bound a request may take while Redis hangs: the timeout and some slack
#: for a loaded 2-core machine, far below redis-py's default retries.
BOUND_S = TIMEOUT_S * 3


@pytest.fixture
async def server() -> AsyncIterator[EmbeddedRedis]:
    """
    A redis-server of this test's own, which it may stop, kill and restart.
    """
    folder = Path(tempfile.mkdtemp(prefix="lsf-"))
    embedded = EmbeddedRedis(folder / "data")
    await embedded.__aenter__()
    yield embedded
    if embedded.pid is not None:
        os.kill(embedded.pid, signal.SIGCONT)
    await embedded.__aexit__(None, None, None)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def service(
    aiohttp_client: Any, server: EmbeddedRedis, settings: Settings
) -> TestClient:
    """
    The app connected by URL, as in production, with a short Redis timeout.
    """
    changed = replace(settings, redis_url=server.url, redis_timeout_s=TIMEOUT_S)
    app = make_app(changed)
    client: TestClient = await aiohttp_client(app)
    await create_api_key(app, {"key": API_KEY, "description": "tests"})
    return client


async def login(client: TestClient) -> tuple[int, dict[str, Any], float]:
    """
    A right-password login: its status, JSON body and duration in seconds.
    """
    body = {"loginId": "ann@example.com", "password": PASSWORD}
    started = time.perf_counter()
    response = await client.post(
        "/api/login", json=body, headers={"Authorization": API_KEY}
    )
    elapsed = time.perf_counter() - started
    return response.status, await response.json(), elapsed


async def eventually_ok(client: TestClient, within_s: float = 10.0) -> int:
    deadline = time.monotonic() + within_s
    while True:
        status, _, _ = await login(client)
        if status == 200 or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


async def test_a_hung_redis_gives_503_within_the_timeout_and_then_recovers(
    service: TestClient, server: EmbeddedRedis
) -> None:
    """
    SIGSTOP: 503 with a JSON body in bounded time; SIGCONT: logins work again.
    """
    await make_user(service.app[RUNTIME], "ann@example.com")
    assert server.pid is not None

    os.kill(server.pid, signal.SIGSTOP)
    try:
        status, body, elapsed = await login(service)
        health = await service.get("/api/status")
        health_body = await health.json()
    finally:
        os.kill(server.pid, signal.SIGCONT)

    assert 503 == status
    assert ["[StoreUnavailable]"] == [e["code"] for e in body["generalErrors"]]
    assert elapsed < BOUND_S, elapsed
    assert 503 == health.status
    assert "Redis did not answer in time." == health_body["redis"]
    assert 200 == await eventually_ok(service)


async def test_a_dead_redis_gives_503_and_a_restarted_one_is_used_again(
    service: TestClient, server: EmbeddedRedis
) -> None:
    """
    Stopped and started on the same data: no restart of the service needed.
    """
    await make_user(service.app[RUNTIME], "ann@example.com")

    await asyncio.to_thread(server.stop)
    status, body, elapsed = await login(service)
    health = await service.get("/api/status")
    health_body = await health.json()
    await server.__aenter__()

    assert 503 == status
    assert ["[StoreUnavailable]"] == [e["code"] for e in body["generalErrors"]]
    assert elapsed < BOUND_S, elapsed
    assert 503 == health.status
    assert "Redis is unreachable." == health_body["redis"]
    assert 200 == await eventually_ok(service)


async def test_an_append_refused_by_validation_leaves_no_event(
    service: TestClient,
) -> None:
    """
    A write the script refuses is found before the first XADD.
    """
    rt = service.app[RUNTIME]
    tag = keys.tag(0)
    envelope = Envelope(LoginAttempted("x@example.com", "unknownUser"), "a:1", 0, 1)
    denied = Op("FLUSHALL", keys.user(tag, "someone"))

    with pytest.raises(ResponseError, match="DENIED"):
        await rt.events.append(tag, None, -1, [envelope, envelope], [denied])

    assert 0 == await rt.redis.xlen(keys.event_stream(tag))


async def test_an_append_whose_write_fails_in_redis_leaves_no_event(
    service: TestClient,
) -> None:
    """
    A projection write Redis itself rejects (WRONGTYPE) fails before any XADD.
    """
    rt = service.app[RUNTIME]
    tag = keys.tag(0)
    target = keys.user(tag, "someone")
    await rt.redis.set(target, "not a hash")
    envelope = Envelope(LoginAttempted("x@example.com", "unknownUser"), "a:1", 0, 1)
    write = Op("HSET", target, ("d", "x"))

    with pytest.raises(ResponseError):
        await rt.events.append(tag, None, -1, [envelope], [write])

    assert 0 == await rt.redis.xlen(keys.event_stream(tag))
