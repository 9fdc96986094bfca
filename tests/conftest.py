"""
Shared fixtures: the app on fakeredis (always) or on a real redis-server
(``-m redis``), an admin API key, and a controllable clock.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from loginsvc.app import make_app
from loginsvc.appkeys import RUNTIME
from loginsvc.config import CHEAPEST, Settings
from loginsvc.runtime import Runtime
from loginsvc.services.bootstrap import create_api_key

API_KEY = "test-admin-key-0123456789abcdef"


class Clock:
    """
    A clock tests can move; starts at the real time.
    """

    def __init__(self) -> None:
        self.now = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        partitions=4, hash_profile=CHEAPEST, hash_threads=2, hash_max_wait_ms=60_000
    )


SPILLING = {
    "held": {},
    # Pages of two events; documents packed, and some keys forgotten, once a
    # fold holds more than one document's worth.
    "packed": {"hold": 40, "batch": 2},
    "spilled": {"hold": 0, "batch": 2},
}


@pytest.fixture(params=sorted(SPILLING))
def spilling(request: pytest.FixtureRequest) -> dict[str, int]:
    """
    Options for ``rebuild``: its defaults, or a fold held to a tiny memory
    budget, so it packs documents and writes keys to staging and forgets them
    as it goes, reading them back when a later page touches them
    (``projections.spill``).
    """
    return SPILLING[request.param]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """
    A real redis-server on a unix socket, for tests marked ``redis``.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run: apt-get install redis-server")
    folder = Path(tempfile.mkdtemp(prefix="loginsvc-test-redis-"))
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    yield f"unix://{sock}"
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.redis)])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    """
    A Redis client: fakeredis, and a real server when ``-m redis`` selects it.
    """
    if request.param == "fakeredis":
        client: Redis = fakeredis.FakeAsyncRedis()
    else:
        url = request.getfixturevalue("redis_server")
        client = Redis.from_url(url)
        await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def client(
    aiohttp_client: Any, redis: Redis, settings: Settings, clock: Clock
) -> TestClient:
    """
    The app over real HTTP on a loopback socket, with the admin key ``API_KEY``.
    """
    app = make_app(settings, redis=redis, clock=clock)
    test_client: TestClient = await aiohttp_client(app)
    await create_api_key(app, {"key": API_KEY, "description": "tests"})
    return test_client


@pytest.fixture
def rt(client: TestClient) -> Runtime:
    return client.app[RUNTIME]


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": API_KEY}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
