"""
``LOGINSVC_REDIS_MODE``: the settings it accepts, and the service on a primary
found through Sentinel (``redis+sentinel://...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from redis.asyncio.sentinel import SentinelConnectionPool

from loginsvc.app import make_app
from loginsvc.appkeys import RUNTIME
from loginsvc.config import ConfigError, SentinelUrl, Settings
from tests.conftest import Clock
from tests.redis_topology import Servers
from tests.test_cli import clean_env
from tests.test_cluster import cli, drive

MASTER = "loginsvc-primary"


def test_single_is_the_default_mode() -> None:
    settings = Settings.from_env({"LOGINSVC_REDIS_URL": "redis://127.0.0.1:1"})

    assert "single" == settings.redis_mode


def test_the_cluster_mode_takes_a_node_url() -> None:
    env = {"LOGINSVC_REDIS_MODE": "cluster", "LOGINSVC_REDIS_URL": "redis://a:7000"}

    assert "cluster" == Settings.from_env(env).redis_mode


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db() -> None:
    url = SentinelUrl.parse("redis+sentinel://:s%40cret@h1:26379,[::1]:26380/main/2")

    assert (("h1", 26379), ("::1", 26380)) == url.sentinels
    assert ("main", 2, None, "s@cret") == (
        url.master,
        url.db,
        url.username,
        url.password,
    )
    assert "s@cret" not in repr(url)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOGINSVC_REDIS_MODE": "sharded"}, "must be one of single, cluster"),
        ({"LOGINSVC_REDIS_MODE": "cluster"}, "needs 'LOGINSVC_REDIS_URL'"),
        (
            {"LOGINSVC_REDIS_MODE": "cluster", "LOGINSVC_REDIS_URL": "unix:///r.sock"},
            "redis:// or rediss:// URL of a cluster node",
        ),
        (
            {"LOGINSVC_REDIS_URL": "redis+sentinel://h:26379/main"},
            "set 'LOGINSVC_REDIS_MODE' to sentinel",
        ),
        *(
            (
                {"LOGINSVC_REDIS_MODE": "sentinel", "LOGINSVC_REDIS_URL": url},
                "'LOGINSVC_REDIS_URL' must read like 'redis+sentinel://host:26379",
            )
            for url in (
                "redis://h:26379/main",
                "redis+sentinel://h:26379",
                "redis+sentinel://h:26379/",
                "redis+sentinel://h/main",
                "redis+sentinel://h:99999/main",
                "redis+sentinel://h:26379,/main",
                "redis+sentinel://h:26379/main/zero",
            )
        ),
    ],
)
def test_a_bad_mode_or_url_is_one_config_error(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")) as error:
        Settings.from_env(env)

    assert "\n" not in str(error.value)


@pytest.fixture
def sentinel_url() -> Iterator[str]:
    """
    One primary and one sentinel watching it (quorum 1).
    """
    servers = Servers("loginsvc-test-sentinel-")
    try:
        primary = servers.start()
        config = f"sentinel monitor {MASTER} 127.0.0.1 {primary} 1\n"
        sentinel = servers.start("--sentinel", config=config)
        command = f"SENTINEL get-master-addr-by-name {MASTER}"
        servers.wait(sentinel, command, str(primary))
        yield f"redis+sentinel://127.0.0.1:{sentinel}/{MASTER}"
    finally:
        servers.close()


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_the_service_runs_on_the_primary_sentinel_names(
    aiohttp_client: Any, sentinel_url: str, settings: Settings, clock: Clock
) -> None:
    by_sentinel = replace(settings, redis_url=sentinel_url, redis_mode="sentinel")
    client: TestClient = await aiohttp_client(make_app(by_sentinel, clock=clock))

    await drive(client)

    redis = client.app[RUNTIME].redis
    assert isinstance(redis, Redis)
    assert isinstance(redis.connection_pool, SentinelConnectionPool)
    env = {**clean_env(), "LOGINSVC_REDIS_URL": sentinel_url}
    env["LOGINSVC_REDIS_MODE"] = "sentinel"
    status, out, err = await cli(env, "verify")
    assert (0, b"") == (status, out), err
