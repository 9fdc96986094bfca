"""
The service on a three-primary Redis Cluster (``LOGINSVC_REDIS_MODE=cluster``):
logins, refresh, logout and the reports over HTTP, then ``rebuild`` and
``verify`` find nothing to change.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from loginsvc import keys
from loginsvc.app import make_app
from loginsvc.appkeys import RUNTIME
from loginsvc.config import Settings
from loginsvc.services.bootstrap import create_api_key
from projections.rebuild import rebuild
from projections.verify import verify
from tests.conftest import API_KEY, Clock, free_port
from tests.projections.helpers import (
    PASSWORD,
    application,
    login,
    registered_user,
    snapshot,
    without_ttl,
)
from tests.redis_topology import Servers
from tests.test_cli import clean_env

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_CONFIG = "cluster-enabled yes\ncluster-node-timeout 5000\n"


@pytest.fixture
def cluster_url() -> Iterator[str]:
    """
    Three primaries joined with ``redis-cli --cluster create``.
    """
    servers = Servers("loginsvc-test-cluster-")
    try:
        # The bus port is picked too: port + 10000 may be taken or too high.
        ports = [
            servers.start("--cluster-port", str(free_port()), config=CLUSTER_CONFIG)
            for _ in range(3)
        ]
        nodes = [f"127.0.0.1:{p}" for p in ports]
        out = servers.cli("--cluster", "create", *nodes, "--cluster-yes")
        assert "All 16384 slots covered" in out, out
        for port in ports:
            servers.wait(port, "CLUSTER INFO", "cluster_state:ok")
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        servers.close()


async def drive(client: TestClient) -> dict[str, Any]:
    """
    One user's life over HTTP; the steps that read across partitions included.
    """
    admin = {"Authorization": API_KEY}
    await create_api_key(client.app, {"key": API_KEY, "description": "tests"})
    app_id = await application(client, admin)
    refreshing = {"loginConfiguration": {"allowTokenRefresh": True}}
    patched = await client.patch(
        f"/api/application/{app_id}", json={"application": refreshing}, headers=admin
    )
    assert 200 == patched.status, await patched.text()
    users = [await registered_user(client, admin, app_id, n) for n in ("ada", "bo")]
    ada = users[0]

    assert 404 == await login(client, admin, "ada", app_id, ok=False)
    for name in ("ada", "bo"):
        assert 200 == await login(client, admin, name, app_id, ok=True)
    body = {"loginId": "ada", "password": PASSWORD, "applicationId": app_id}
    response = await client.post("/api/login", json=body, headers=admin)
    assert 200 == response.status, await response.text()
    logged_in = await response.json()
    assert logged_in["refreshToken"] and logged_in["token"]

    refreshed = await client.post(
        "/api/jwt/refresh", json={"refreshToken": logged_in["refreshToken"]}
    )
    assert 200 == refreshed.status, await refreshed.text()
    token = (await refreshed.json()).get("refreshToken") or logged_in["refreshToken"]

    listed = await client.get(f"/api/jwt/refresh?userId={ada['id']}", headers=admin)
    assert 200 == listed.status
    tokens = (await listed.json())["refreshTokens"]
    assert tokens
    one = await client.get(f"/api/jwt/refresh/{tokens[0]['id']}", headers=admin)
    assert 200 == one.status

    recent = await client.get("/api/user/recent-login?limit=20", headers=admin)
    assert 200 == recent.status
    logins = (await recent.json())["logins"]
    assert {ada["id"], users[1]["id"]} <= {row["userId"] for row in logins}
    report = await client.get(
        "/api/report/login?start=0&end=9999999999999", headers=admin
    )
    assert 200 == report.status
    assert 3 == (await report.json())["total"]

    logout = await client.post("/api/logout", json={"refreshToken": token})
    assert 200 == logout.status
    gone = await client.post("/api/jwt/refresh", json={"refreshToken": token})
    assert 400 == gone.status
    assert "[invalid]refreshToken" in await gone.text()
    revoked = await client.delete(
        f"/api/jwt/refresh?applicationId={app_id}", headers=admin
    )
    assert 200 == revoked.status, await revoked.text()
    status = await client.get("/api/status")
    assert 200 == status.status
    return {"app": app_id, "ada": ada["id"]}


async def test_the_service_runs_on_a_redis_cluster(
    aiohttp_client: Any,
    cluster_url: str,
    settings: Settings,
    clock: Clock,
    spilling: dict[str, int],
) -> None:
    on_cluster = replace(settings, redis_url=cluster_url, redis_mode="cluster")
    client: TestClient = await aiohttp_client(make_app(on_cluster, clock=clock))
    await drive(client)

    redis: Any = client.app[RUNTIME].redis
    assert "RedisCluster" == type(redis).__name__
    streams = [keys.event_stream(t) for t in keys.all_tags(settings.partitions)]
    owners = {redis.get_node_from_key(s).name for s in streams}
    assert 1 < len(owners), "the partitions should spread over several primaries"
    before = await snapshot(redis)
    rebuilt = await rebuild(redis, settings.partitions, clock, **spilling)
    assert 0 < rebuilt.keys
    assert without_ttl(before) == without_ttl(await snapshot(redis))
    report = await verify(redis, settings.partitions, clock)
    assert [] == report.differences
    assert 0 < report.events

    env = {**clean_env(), "LOGINSVC_REDIS_URL": cluster_url}
    env["LOGINSVC_REDIS_MODE"] = "cluster"
    for command in ("verify", "replay"):
        done = await cli(env, command)
        assert 0 == done[0], done
    assert b"LoggedIn" in done[1]


async def cli(env: dict[str, str], *args: str) -> tuple[int | None, bytes, bytes]:
    """
    Run ``python -m loginsvc`` without blocking the loop the app runs on.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loginsvc",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, out, err
